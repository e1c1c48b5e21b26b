"""The Snakefile: DAGs of both configs, the demo data rules end to end, and what a rerun schedules."""

import os
import re
import subprocess
import sys

import yaml

from artfinetune.data.store import read_store_info

from .conftest import DEMO_CONFIG, REPO
from .workflow_helpers import ENV, jobs, snakemake, tiny_demo


def _elsewhere(config_path, tmp_path):
    """The config with its results under tmp_path, so outputs in the work tree do not matter."""
    config = yaml.safe_load(config_path.read_text())
    config["results"] = str(tmp_path / config_path.parent.name / "results")
    path = tmp_path / f"{config_path.parent.name}.yaml"
    path.write_text(yaml.safe_dump(config))
    return path


def shell_commands(output: str) -> list[str]:
    """Every job's shell command of a dry run with -p, sorted."""
    return sorted(re.findall(r"^Shell command: (.*)$", output, re.M))


def render_commands(output: str) -> list[str]:
    """The render jobs' shell commands of a dry run with -p."""
    return re.findall(r"^Shell command: (artfinetune render .*)$", output, re.M)


def test_dry_run_lists_the_dag_of_both_configs(tmp_path):
    code, out = snakemake("-n", "-p", configfile=_elsewhere(REPO / "config.yaml", tmp_path))
    assert code == 0, out
    assert jobs(out) == {
        "download_dataset": 3,
        "image_store": 3,
        "download_lucid_weights": 1,
        "import_lucid": 1,
        "download_keras_weights": 2,  # ImageNet ResNet-50 and VGG16 (the architectures comparison)
        "import_keras": 2,
        # 42 InceptionV1 trainings; ResNet-50 and VGG16 on RASTA: mode A with two seeds, from scratch with one
        "train": 42 + 6,
        "ensemble": 2,
        "table": 2,
        # 25 pairs: 22 of the comparisons, tables and figures 5, 6, 14, 15, plus ImageNet vs end from scratch
        # (figure 5) and vs modes C, D, E training 2 (figures 2, 9); ImageNet vs F 1 is no longer named. And 14
        # seed variants (the same pairs with seed 2, for the seed spread): figure 5's A 1 vs B 1, from scratch and
        # end from scratch vs their inits, ImageNet vs end from scratch; table 4's nine pairs of seed 1 (ImageNet
        # vs A on IconArt, Paintings, and vs RASTA then each; RASTA A, end from scratch and from scratch vs
        # then IconArt and then Paintings).
        # And per ResNet-50 and VGG16: 3 pairs (ImageNet vs A 1 and its seed variant vs A 2, from scratch vs its
        # init) of 5 models.
        "activations": 49 + 10,  # 49 (dataset, model) of those 39 pairs, each job both splits
        "topk": 49 + 10,
        "cka": 39 + 6,
        "l2": 39 + 6,
        "overlap": 40 + 6,  # and ImageNet vs RASTA mode A 1 on IconArt's train set (figure 17)
        "architectures": 1,
        "figure": 5,  # 5, 6, 6 at top-1000, 14, 15
        "comparison_table": 2,
        "mode_table": 1,
        # ImageNet, modes A-E x 2 (figure 2), end from scratch and from scratch with their inits (figure 4),
        # FT on IconArt and on RASTA then IconArt (figure 16)
        "render": 17,
        "render_changed": 2,
        # ImageNet vs modes A-E x 2 (figure 9, A 1 for figures 1, 3, 8, 11 and the gallery too), the two
        # from-scratch pairs (figures 4, 12, 13) and figure 17's three pairs on IconArt
        "mosaics": 15,
        "panel": 14,  # figures 1-4, 7-13, 16, 17, and figure 7's channels with their patches
        "render_change": 1,  # the gallery's pair
        "gallery": 1,
        "software": 1,
        "findings": 1,
        "all": 1,
    }
    # The paper's renders keep their settings (a changed command would rerun a study's renders), the graph
    # optimiser on; the demo's 32-step renders skip it.
    paper_renders = render_commands(out)
    assert len(paper_renders) == 19
    assert all(" --size 224 --steps 2048 --lr 0.05 --seed 0 --batch 8 --threads" in c for c in paper_renders)
    code, out = snakemake("-n", "-p", configfile=_elsewhere(DEMO_CONFIG, tmp_path))
    assert code == 0, out
    assert jobs(out) == {
        "demo_dataset": 3,
        "image_store": 3,
        "pretrain": 1,
        "train": 12,  # 11 runs with seed 1, mode A with seed 2 too
        "ensemble": 1,  # seed 1, the only one its three runs share
        "table": 2,
        "activations": 16,
        "topk": 16,
        # 12, and the pretrained model vs end from scratch (figure 5); the seed variant of figure 5's and table 2's
        # A 1 vs B 1 would be A 2 vs B 2, but B trains with seed 1 only (the pretrained model vs A 2 is named anyway)
        "cka": 13,
        "l2": 13,
        "overlap": 14,  # and pretrained vs styles_A/1 on demo_objects (figure 17)
        "figure": 5,
        "comparison_table": 2,
        "mode_table": 1,
        "render": 10,  # pretrained, A x 2, B 1, the from-scratch pairs, objects_A/1, objects_styles_A/1
        "render_changed": 2,
        "mosaics": 8,
        "panel": 14,
        "render_change": 1,
        "gallery": 1,
        "software": 1,
        "findings": 1,
        "all": 1,
    }
    demo_renders = render_commands(out)
    assert len(demo_renders) == 12
    assert all(" --batch 64 --no-graph-optimiser --threads" in c for c in demo_renders)
    # Reader workers change the speed only: no job's command (nor params) names them, so setting them reruns nothing.
    config = yaml.safe_load(_elsewhere(DEMO_CONFIG, tmp_path).read_text())
    config["reader_workers"] = 3
    (tmp_path / "workers.yaml").write_text(yaml.safe_dump(config))
    code, with_workers = snakemake("-n", "-p", configfile=tmp_path / "workers.yaml")
    assert code == 0 and shell_commands(with_workers) == shell_commands(out), with_workers[-3000:]
    assert "Config file config.yaml is extended" not in out  # the demo replaces the paper config
    code, out = snakemake("-n", "--config", f"results={tmp_path / 'paper'}")  # --config edits config.yaml
    assert code == 0 and jobs(out)["import_lucid"] == 1, out


def test_the_architectures_demo_trains_each_network_with_its_own_command(tmp_path):
    config = REPO / "resources/demo/architectures.yaml"
    code, out = snakemake("-n", "-p", configfile=_elsewhere(config, tmp_path))
    assert code == 0, out
    assert jobs(out) == {
        "demo_dataset": 2,
        "image_store": 2,
        "pretrain": 3,  # one stand-in ImageNet per architecture
        "train": 3 * 4,  # per architecture: mode A with seeds 1 and 2, from scratch and off the shelf with seed 1
        "table": 1,
        "activations": 3 * 5,  # per architecture: its init, A 1, A 2, from scratch and its init
        "topk": 3 * 5,
        "cka": 3 * 3,  # per architecture: init vs A 1 (and vs A 2, its seed variant), from scratch vs its init
        "l2": 3 * 3,
        "overlap": 3 * 3,
        "render": 3 * 2,  # each gallery's two models
        "mosaics": 3,
        "render_change": 3,
        "gallery": 3,
        "architectures": 1,
        "software": 1,
        "findings": 1,
        "all": 1,
    }
    commands = shell_commands(out)

    def command(start: str, *parts: str) -> str:
        (found,) = [c for c in commands if c.startswith(start) and all(p in c for p in parts)]
        return found

    # a random init names its architecture; InceptionV1's commands stay as they were before other architectures
    assert "--architecture resnet50 " in command("artfinetune train --seed 1", "models/styles_resnet50_from_scratch/1")
    assert "--architecture vgg16 " in command("artfinetune train --seed 0", "models/init/imagenet_vgg16")
    assert "--architecture" not in command("artfinetune train --seed 1", "models/styles_from_scratch/1")
    assert "--architecture" not in command("artfinetune train --seed 0", "models/init/imagenet ")
    assert "--architecture" not in command("artfinetune train --seed 1", "models/styles_vgg16_A/1")  # from its init
    tensors = re.search(r"--tensors '(\[.*?\])'", command("artfinetune activations", "--name styles_resnet50_A/2"))
    resnet = ["conv1_relu", *(f"conv{s}_block{b}_out" for s, n in ((2, 3), (3, 4), (4, 6), (5, 3))
                             for b in range(1, n + 1))]  # fmt: skip
    assert yaml.safe_load(tensors.group(1)) == resnet
    # The same study without ResNet-50 and VGG16: each InceptionV1 job's command is the same as beside them
    alone = yaml.safe_load(config.read_text())
    others = ("resnet50", "vgg16")
    alone["init"] = {k: v for k, v in alone["init"].items() if v.get("architecture") not in others}
    alone["runs"] = {k: v for k, v in alone["runs"].items() if not any(a in k for a in others)}
    alone["tables"]["accuracy"]["rows"] = [
        r for r in alone["tables"]["accuracy"]["rows"] if r["runs"][0] in alone["runs"]
    ]
    alone["architectures"]["findings"] = {"inception_v1": alone["architectures"]["findings"]["inception_v1"]}
    alone["galleries"] = alone["galleries"][:1]
    alone["render"]["channels"] = alone["render"]["channels"][:1]
    (tmp_path / "demo").mkdir()
    (tmp_path / "demo/alone.yaml").write_text(yaml.safe_dump(alone))
    code, out = snakemake("-n", "-p", configfile=_elsewhere(tmp_path / "demo/alone.yaml", tmp_path))
    assert code == 0, out
    stages = ("train", "activations", "topk", "cka", "l2", "overlap", "render", "mosaics", "gallery", "findings")
    inception = [c for c in shell_commands(out) if c.startswith("artfinetune ") and c.split()[1] in stages]
    assert len(inception) == 29 and not set(inception) - set(
        commands
    )  # 5 trainings (pretraining too), 5 x 2 per model,
    # 3 x 3 per pair, 2 renders, the mosaics, the gallery, the findings


def test_each_table_and_figure_is_a_target_of_its_own(tmp_path):
    """From nothing, a figure or a table schedules only what it depends on (counted by hand from the demo config)."""
    cfg = _elsewhere(DEMO_CONFIG, tmp_path)
    results = tmp_path / "demo/results"
    code, out = snakemake("-n", str(results / "figures/fig5_cka.png"), configfile=cfg)
    assert code == 0, out[-3000:]
    # 6 pairs of demo_styles models (the paper's six curves) and 1 seed variant (imagenet vs A/2; the other runs
    # have seed 1 only): 5 trained (A/1, B/1, A/2, from scratch/1, end from scratch/1), their 2 inits and the
    # pretrained model make 8 models, one activations job each; no top-k, l2 or render.
    assert jobs(out) == {
        "demo_dataset": 2,  # demo_source (for the pretrained model) and demo_styles
        "image_store": 2,
        "pretrain": 1,
        "train": 5,
        "activations": 8,  # each writes the train split too (one job per model)
        "cka": 7,
        "figure": 1,
    }
    code, out = snakemake("-n", str(results / "tables/table1.html"), configfile=cfg)
    assert code == 0, out[-3000:]
    # 4 runs (the ensemble's three and off the shelf), styles_A with both seeds, the others and the ensemble seed 1.
    assert jobs(out) == {"demo_dataset": 2, "image_store": 2, "pretrain": 1, "train": 5, "ensemble": 1, "table": 1}


def test_demo_data_rules_build_the_stores_and_rerun_only_what_changed(tmp_path):
    cfg, config = tiny_demo(tmp_path)
    stores = [str(tmp_path / f"results/data/{name}/store.h5") for name in config["datasets"]]
    code, out = snakemake(*stores, configfile=cfg)
    assert code == 0, out
    for name in config["datasets"]:
        info = read_store_info(tmp_path / f"results/data/{name}/store.h5")
        assert info["store_size"] == 72 and info["n"] == 4 * len(info["classes"])
        log = (tmp_path / f"results/logs/image_store/{name}.log").read_text()
        assert f"{name}: stored {info['n']} images" in log
    code, out = snakemake("-n", *stores, configfile=cfg)
    assert "Nothing to be done" in out
    # A new store size changes only the stores' params: the generated images are kept.
    cfg, _ = tiny_demo(tmp_path, store_size=64)
    code, out = snakemake("-n", *stores, configfile=cfg)
    assert jobs(out) == {"image_store": 3}, out


def test_killed_training_resumes_when_the_workflow_is_rerun(tmp_path):
    """SIGKILL the whole Snakemake process group mid-training, unlock, rerun: same model as a clean run, which
    reads its batches with three reader workers instead of one."""
    import signal
    import time

    import numpy as np

    from artfinetune.model.files import load_model

    cfg, config = tiny_demo(tmp_path)
    config["modes"]["from_scratch"]["epochs"] = 5
    config["runs"] = {"styles_from_scratch": config["runs"]["styles_from_scratch"]}
    config.update(
        ensembles={}, tables={}, comparisons=[], figures={}, comparison_tables={}, galleries=[], panels={}, findings={}
    )
    cfg.write_text(yaml.safe_dump(config))
    model = tmp_path / "results/models/styles_from_scratch/1/model.keras"
    # Its own working directory, so --unlock cannot touch another Snakemake's locks in the repository.
    cmd = [
        sys.executable,
        "-m",
        "snakemake",
        str(model),
        "--cores",
        "1",
        "--configfile",
        str(cfg),
        "--snakefile",
        str(REPO / "Snakefile"),
        "--directory",
        str(tmp_path),
    ]
    proc = subprocess.Popen(
        cmd, cwd=REPO, env=ENV, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, start_new_session=True
    )
    checkpoint = model.parent / "checkpoint/state.npz"
    deadline = time.time() + 300
    while not checkpoint.exists() and proc.poll() is None and time.time() < deadline:
        time.sleep(0.05)
    os.killpg(proc.pid, signal.SIGKILL)
    proc.wait()
    assert not model.exists(), "training finished before it could be killed"
    subprocess.run([*cmd, "--unlock"], cwd=REPO, env=ENV, check=True, capture_output=True)
    dry = subprocess.run([*cmd, "-n", "-p"], cwd=REPO, env=ENV, capture_output=True, text=True)
    assert jobs(dry.stdout + dry.stderr) == {"train": 1}, dry.stderr  # only the killed job is scheduled again
    command = re.search(r"^Shell command: (artfinetune train .*) 2> \S+$", dry.stdout + dry.stderr, re.M)[1]
    rerun = subprocess.run(cmd, cwd=REPO, env=ENV, capture_output=True, text=True)
    assert rerun.returncode == 0, rerun.stderr[-3000:]
    log = (tmp_path / "results/logs/train/styles_from_scratch/1.log").read_text()
    assert "resuming after epoch" in log
    # The same job's command, uninterrupted, into another folder, its batches read by worker processes.
    clean = re.sub(r"--out \S+", f"--out {tmp_path / 'clean'}", command) + " --reader-workers 3"
    done = subprocess.run(clean, shell=True, cwd=tmp_path, env=ENV, capture_output=True, text=True)
    assert done.returncode == 0 and "3 reader workers" in done.stderr, done.stderr[-3000:]
    a, b = load_model(model).get_weights(), load_model(tmp_path / "clean/model.keras").get_weights()
    assert all(np.array_equal(x, y) for x, y in zip(a, b, strict=True))
