"""The Snakefile: DAGs of both configs, the demo data rules end to end, and what a rerun schedules."""

import os
import re
import subprocess
import sys

import yaml

from artfinetune.data.store import read_store_info

from .conftest import DEMO_CONFIG, REPO

ENV = {**os.environ, "PATH": f"{os.path.dirname(sys.executable)}:{os.environ['PATH']}"}


def snakemake(*args, configfile=None):
    cmd = [sys.executable, "-m", "snakemake", *args, "--cores", "2"]
    if configfile:
        cmd += ["--configfile", str(configfile)]
    proc = subprocess.run(cmd, cwd=REPO, capture_output=True, text=True, env=ENV)
    return proc.returncode, proc.stdout + proc.stderr


def jobs(output: str) -> dict[str, int]:
    """Job counts from a dry run's 'Job stats' table."""
    table = output.split("Job stats:")[1].split("Reasons:")[0] if "Job stats:" in output else ""
    return {m[1]: int(m[2]) for m in re.finditer(r"^(\w+)\s+(\d+)$", table, re.M) if m[1] != "total"}


def tiny_demo(tmp_path, **dataset_changes):
    config = yaml.safe_load(DEMO_CONFIG.read_text())
    config["results"] = str(tmp_path / "results")
    for ds in config["datasets"].values():
        ds["source"]["images_per_class"] = 4
        ds["source"]["image_size"] = 72
        ds.update(dataset_changes)
    path = tmp_path / "config.yaml"
    path.write_text(yaml.safe_dump(config))
    return path, config


def _elsewhere(config_path, tmp_path):
    """The config with its results under tmp_path, so outputs in the work tree do not matter."""
    config = yaml.safe_load(config_path.read_text())
    config["results"] = str(tmp_path / config_path.parent.name / "results")
    path = tmp_path / f"{config_path.parent.name}.yaml"
    path.write_text(yaml.safe_dump(config))
    return path


def test_dry_run_lists_the_dag_of_both_configs(tmp_path):
    code, out = snakemake("-n", configfile=_elsewhere(REPO / "config.yaml", tmp_path))
    assert code == 0, out
    assert jobs(out) == {
        "download_dataset": 3,
        "image_store": 3,
        "download_lucid_weights": 1,
        "import_lucid": 1,
        "train": 42,
        "ensemble": 2,
        "table": 2,
        "activations": 58,  # 29 (dataset, model) of 22 pairs, test and train splits
        "topk": 29,
        "cka": 22,
        "l2": 22,
        "overlap": 22,
        "figure": 4,
        "comparison_table": 2,
        "render": 9,  # the models of figures 1 and 2 and of the gallery
        "render_changed": 2,
        "mosaics": 8,
        "panel": 2,
        "gallery": 1,
        "all": 1,
    }
    code, out = snakemake("-n", configfile=_elsewhere(DEMO_CONFIG, tmp_path))
    assert code == 0, out
    assert jobs(out) == {
        "demo_dataset": 3,
        "image_store": 3,
        "pretrain": 1,
        "train": 22,
        "ensemble": 2,
        "table": 2,
        "activations": 34,
        "topk": 17,
        "cka": 13,
        "l2": 13,
        "overlap": 13,
        "figure": 4,
        "comparison_table": 2,
        "render": 5,
        "render_changed": 2,
        "mosaics": 4,
        "panel": 2,
        "gallery": 1,
        "all": 1,
    }
    assert "Config file config.yaml is extended" not in out  # the demo replaces the paper config
    code, out = snakemake("-n", "--config", f"results={tmp_path / 'paper'}")  # --config edits config.yaml
    assert code == 0 and jobs(out)["import_lucid"] == 1, out


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
    """SIGKILL the whole Snakemake process group mid-training, unlock, rerun: same model as a clean run."""
    import signal
    import time

    import numpy as np

    from artfinetune.model.files import load_model

    cfg, config = tiny_demo(tmp_path)
    config["modes"]["from_scratch"]["epochs"] = 5
    config["runs"] = {"styles_from_scratch": config["runs"]["styles_from_scratch"]}
    config.update(ensembles={}, tables={}, comparisons=[], figures={}, comparison_tables={}, galleries=[], panels={})
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
    dry = subprocess.run([*cmd, "-n"], cwd=REPO, env=ENV, capture_output=True, text=True)
    assert jobs(dry.stdout + dry.stderr) == {"train": 1}, dry.stderr  # only the killed job is scheduled again
    rerun = subprocess.run(cmd, cwd=REPO, env=ENV, capture_output=True, text=True)
    assert rerun.returncode == 0, rerun.stderr[-3000:]
    log = (tmp_path / "results/logs/train/styles_from_scratch/1.log").read_text()
    assert "resuming after epoch" in log
    # The same job, uninterrupted, in a second results folder.
    config["results"] = str(tmp_path / "clean")
    cfg.write_text(yaml.safe_dump(config))
    clean = tmp_path / "clean/models/styles_from_scratch/1/model.keras"
    subprocess.run([*cmd[:3], str(clean), *cmd[4:]], cwd=REPO, env=ENV, check=True, capture_output=True)
    a, b = load_model(model).get_weights(), load_model(clean).get_weights()
    assert all(np.array_equal(x, y) for x, y in zip(a, b, strict=True))


def test_the_analysis_dag_from_models_to_figures_and_tables(tmp_path):
    """One run, one seed: activations, top-k, CKA, l2, overlap, figures 5 and 6 and table 2 through the rules."""
    cfg, config = tiny_demo(tmp_path)
    del config["datasets"]["demo_objects"]
    config["modes"] = {
        "pretrain": {**config["modes"]["pretrain"], "epochs": 1},
        "A": {**config["modes"]["A"], "epochs": 1},
    }
    config.update(runs={"styles_A": config["runs"]["styles_A"]}, seeds=[1], ensembles={}, tables={}, topk=[2, 4])
    pair = ["imagenet", "styles_A/1"]
    config["figures"] = {
        "fig5_cka": {"kind": "cka", "pairs": [pair], "reference": {"label": "paper", "values": [0.5] * 12}},
        "fig6_topk": {"kind": "topk", "pair": pair, "title": "overlap"},
    }
    config["comparison_tables"] = {
        "table2": {"metrics": ["mean_l2"], "rows": [{"label": "pretrained vs FT", "pairs": [pair], "paper": [1.26]}]}
    }
    config["layers"] = ["conv2d0", "mixed4a", "mixed5b"]
    config["render"] = {"size": 64, "steps": 4, "per_layer": 1, "channels": ["mixed4d_3x3_pre_relu:52"]}
    config["galleries"] = [pair]
    config["panels"] = {"fig1": {"pairs": [pair], "channels": ["mixed4a:10", "mixed4d_3x3_pre_relu:52"]}}
    cfg.write_text(yaml.safe_dump(config))
    code, out = snakemake(configfile=cfg)
    assert code == 0, out[-3000:]
    results = tmp_path / "results"
    for figure in ("fig5_cka", "fig6_topk"):
        for ext in ("png", "pdf"):
            assert (results / f"figures/{figure}.{ext}").stat().st_size > 10_000
    pair_dir = results / "comparisons/demo_styles/imagenet_vs_styles_A.1"
    cka = (pair_dir / "cka.csv").read_text()
    for tensor in ("conv2d0", "mixed5b", "mixed4d_3x3"):  # the render channels' tensors are analysed too
        assert f",{tensor},," in cka
    for name in ("mixed4a_10.png", "mixed4d_3x3_pre_relu_52.png"):  # the panel's channels, in both models
        assert (results / "renders/imagenet/named" / name).exists()
        assert (results / "renders/styles_A/1/named" / name).exists()
    changed = sorted(p.name for p in (results / "renders/styles_A/1/changed/imagenet_vs_styles_A.1").glob("*.png"))
    assert 3 <= len(changed) <= 6  # per layer the most and the least changed channel
    assert (results / "figures/fig1.png").stat().st_size > 10_000
    gallery = (results / "galleries/imagenet_vs_styles_A.1.html").read_text()
    assert all(name in gallery for name in changed) and "mixed4d_3x3_pre_relu:52" in gallery
    table = (results / "tables/table2.md").read_text()
    assert "pretrained vs FT" in table and "1.26" in table and "imagenet vs styles_A/1" in table
    activations = results / "activations/demo_styles/styles_A/1/test.h5"
    assert activations.exists() and (results / "activations/demo_styles/imagenet/train.h5").exists()
    code, out = snakemake("-n", configfile=cfg)
    assert "Nothing to be done" in out, out
    config["figures"]["fig6_topk"]["title"] = "another title"  # a figure-only setting reruns that figure alone
    cfg.write_text(yaml.safe_dump(config))
    code, out = snakemake("-n", configfile=cfg)
    assert jobs(out) == {"figure": 1, "all": 1}, out
