"""The Snakefile: DAGs of both configs, the demo data rules end to end, and what a rerun schedules."""

import copy
import os
import re
import subprocess
import sys
from pathlib import Path

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
        "train": 42,
        "ensemble": 2,
        "table": 2,
        # 25 pairs: 22 of the comparisons, tables and figures 5, 6, 14, 15, plus ImageNet vs end from scratch
        # (figure 5) and vs modes C, D, E training 2 (figures 2, 9); ImageNet vs F 1 is no longer named.
        "activations": 31,  # 31 (dataset, model) of those pairs, each job both splits
        "topk": 31,
        "cka": 25,
        "l2": 25,
        "overlap": 26,  # and ImageNet vs RASTA mode A 1 on IconArt's train set (figure 17)
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
        "panel": 13,  # figures 1-4, 7-13, 16, 17
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
        "train": 22,
        "ensemble": 2,
        "table": 2,
        "activations": 17,
        "topk": 17,
        "cka": 14,  # 13 and the pretrained model vs end from scratch (figure 5)
        "l2": 14,
        "overlap": 15,  # and pretrained vs styles_A/1 on demo_objects (figure 17)
        "figure": 5,
        "comparison_table": 2,
        "mode_table": 1,
        "render": 11,  # pretrained, A and B x 2, the from-scratch pairs, objects_A/1, objects_styles_A/1
        "render_changed": 2,
        "mosaics": 9,
        "panel": 13,
        "gallery": 1,
        "software": 1,
        "findings": 1,
        "all": 1,
    }
    demo_renders = render_commands(out)
    assert len(demo_renders) == 13
    assert all(" --batch 32 --no-graph-optimiser --threads" in c for c in demo_renders)
    # Reader workers change the speed only: no job's command (nor params) names them, so setting them reruns nothing.
    config = yaml.safe_load(_elsewhere(DEMO_CONFIG, tmp_path).read_text())
    config["reader_workers"] = 3
    (tmp_path / "workers.yaml").write_text(yaml.safe_dump(config))
    code, with_workers = snakemake("-n", "-p", configfile=tmp_path / "workers.yaml")
    assert code == 0 and shell_commands(with_workers) == shell_commands(out), with_workers[-3000:]
    assert "Config file config.yaml is extended" not in out  # the demo replaces the paper config
    code, out = snakemake("-n", "--config", f"results={tmp_path / 'paper'}")  # --config edits config.yaml
    assert code == 0 and jobs(out)["import_lucid"] == 1, out


def test_each_table_and_figure_is_a_target_of_its_own(tmp_path):
    """From nothing, a figure or a table schedules only what it depends on (counted by hand from the demo config)."""
    cfg = _elsewhere(DEMO_CONFIG, tmp_path)
    results = tmp_path / "demo/results"
    code, out = snakemake("-n", str(results / "figures/fig5_cka.png"), configfile=cfg)
    assert code == 0, out[-3000:]
    # 6 pairs of demo_styles models (the paper's six curves): 5 trained (A/1, B/1, A/2, from scratch/1, end from
    # scratch/1), their 2 inits and the pretrained model make 8 models, one activations job each; no top-k, l2 or
    # render.
    assert jobs(out) == {
        "demo_dataset": 2,  # demo_source (for the pretrained model) and demo_styles
        "image_store": 2,
        "pretrain": 1,
        "train": 5,
        "activations": 8,  # each writes the train split too (one job per model)
        "cka": 6,
        "figure": 1,
    }
    code, out = snakemake("-n", str(results / "tables/table1.html"), configfile=cfg)
    assert code == 0, out[-3000:]
    # 4 runs x 2 seeds (the ensemble's three and off the shelf), the ensemble per seed.
    assert jobs(out) == {"demo_dataset": 2, "image_store": 2, "pretrain": 1, "train": 8, "ensemble": 2, "table": 1}


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
    dry = subprocess.run([*cmd, "-n"], cwd=REPO, env=ENV, capture_output=True, text=True)
    assert jobs(dry.stdout + dry.stderr) == {"train": 1}, dry.stderr  # only the killed job is scheduled again
    rerun = subprocess.run(cmd, cwd=REPO, env=ENV, capture_output=True, text=True)
    assert rerun.returncode == 0, rerun.stderr[-3000:]
    log = (tmp_path / "results/logs/train/styles_from_scratch/1.log").read_text()
    assert "resuming after epoch" in log
    # The same job, uninterrupted, in a second results folder, its batches read by worker processes.
    config["results"] = str(tmp_path / "clean")
    config["reader_workers"] = 3
    cfg.write_text(yaml.safe_dump(config))
    clean = tmp_path / "clean/models/styles_from_scratch/1/model.keras"
    subprocess.run([*cmd[:3], str(clean), *cmd[4:]], cwd=REPO, env=ENV, check=True, capture_output=True)
    assert "3 reader workers" in (tmp_path / "clean/logs/train/styles_from_scratch/1.log").read_text()
    a, b = load_model(model).get_weights(), load_model(clean).get_weights()
    assert all(np.array_equal(x, y) for x, y in zip(a, b, strict=True))


FORMATS = [
    ("JPEG", ".jpg", "RGB"),
    ("PNG", ".png", "RGBA"),
    ("WEBP", ".webp", "RGB"),
    ("BMP", ".bmp", "L"),
    ("TIFF", ".tif", "RGB"),
    ("GIF", ".gif", "P"),
]


def own_dataset(root):
    """A researcher's dataset as the README describes it: a folder of images in several formats, sizes and colour
    modes, and a CSV (id, path, labels separated by ';', split) with some multi-label and some unlabelled rows."""
    from PIL import Image, ImageDraw

    classes = ["angel", "ruins", "boat"]
    rows = ["id,path,labels,split"]
    for i in range(24):
        fmt, ext, mode = FORMATS[i % len(FORMATS)]
        size = (72 + 9 * (i % 5), 72 + 13 * (i % 3))
        labels = [classes[i % 3]] + ([classes[(i + 1) % 3]] if i % 4 == 0 else [])
        img = Image.new("RGB", size, (30 + 70 * (i % 3), 90, 200 - 60 * (i % 3)))
        draw = ImageDraw.Draw(img)
        for label in labels:  # each class its own shape, so there is something to learn
            c = classes.index(label)
            box = (10 + 12 * c, 10 + 8 * c, 40 + 12 * c, 50 + 8 * c)
            [draw.ellipse, draw.rectangle, draw.polygon][c](
                box if c < 2 else [box[:2], box[2:], (box[0], box[3])], fill=(255, 255 - 80 * c, 60 * c)
            )
        path = root / "images" / f"sub{i % 2}" / f"painting {i:02d}{ext}"
        path.parent.mkdir(parents=True, exist_ok=True)
        img.convert(mode).save(path, fmt)
        split = "test" if i % 3 == 2 else "train"
        rows.append(f"p{i:02d},{path.relative_to(root)},{';'.join(labels) if i != 7 else ''},{split}")
    (root / "paintings.csv").write_text("\n".join(rows) + "\n")
    return {
        "source": {"kind": "csv", "table": str(root / "paintings.csv"), "root": str(root)},
        "task": "multi_label",
        "classes": classes,
        "store_size": 72,
    }


def test_your_own_dataset_through_training_analysis_renders_figures_and_the_report(tmp_path):
    """A CSV dataset added to a copy of the demo config (one run, one comparison) goes through training,
    activations, metrics, renders, figures 5 and 6, tables 2 and 5, a panel, a gallery and the report, with no code
    change; then each kind of edit reruns what depends on it and nothing else."""
    from tests.browser import open_report

    cfg, config = tiny_demo(tmp_path)
    config["datasets"] = {"demo_source": config["datasets"]["demo_source"], "my_paintings": own_dataset(tmp_path)}
    config["modes"] = {
        "pretrain": {**config["modes"]["pretrain"], "epochs": 1},
        "A": {**config["modes"]["A"], "epochs": 1},
    }
    config.update(runs={"mine_A": {"dataset": "my_paintings", "init": "imagenet", "mode": "A"}}, seeds=[1])
    config.update(ensembles={}, tables={}, topk=[2, 4], layers=["conv2d0", "mixed4a", "mixed5b"])
    pair, init_pair = ["imagenet", "mine_A/1"], ["mine_A/1/init", "mine_A/1"]
    config["comparisons"] = [init_pair]
    config["figures"] = {
        "fig5_cka": {"kind": "cka", "pairs": [pair], "reference": {"label": "paper", "values": [0.5] * 12}},
        "fig6_topk": {
            "kind": "topk",
            "title": "overlap",
            "boxes": [{"metric": "overlap", "pair": pair}, {"metric": "entropy", "pair": pair}],
        },
    }
    config["comparison_tables"] = {
        "table2": {"metrics": ["mean_l2"], "rows": [{"label": "pretrained vs FT", "pairs": [pair], "paper": [1.26]}]}
    }
    config["mode_tables"] = {"table5": {"rows": [{"mode": "A", "paper": {"epochs": 20, "optimizer": "SGD"}}]}}
    config["render"] = {"size": 64, "steps": 4, "per_layer": 1, "channels": ["mixed4d_3x3_pre_relu:52"]}
    config["galleries"] = [pair]
    config["panels"] = {
        "fig1": {"columns": [{"pair": pair, "channel": c} for c in ("mixed4a:10", "mixed4d_3x3_pre_relu:52")]}
    }
    config["findings"] = {"depth": {"pair": pair}}  # the other findings cannot be judged here
    cfg.write_text(yaml.safe_dump(config))
    report = tmp_path / "report.zip"
    threads = [
        "--set-threads",
        "pretrain=2",
        "train=1",
        "activations=1",
        "render=1",
        "render_changed=1",
    ]  # as make demo
    code, out = snakemake("--report", str(report), "--report-after-run", *threads, configfile=cfg)
    assert code == 0, out[-3000:]
    results = tmp_path / "results"
    info = read_store_info(results / "data/my_paintings/store.h5")
    assert info["n"] == 24 and info["n_unlabeled"] == 1  # every format decoded, the unlabelled row kept
    for figure in ("fig5_cka", "fig6_topk", "fig1"):
        for ext in ("png", "pdf"):
            assert (results / f"figures/{figure}.{ext}").stat().st_size > 10_000
    pair_dir = results / "comparisons/my_paintings/imagenet_vs_mine_A.1"
    cka = (pair_dir / "cka.csv").read_text()
    for tensor in ("conv2d0", "mixed5b", "mixed4d_3x3"):  # the render channels' tensors are analysed too
        assert f",{tensor},," in cka
    assert (results / "comparisons/my_paintings/mine_A.1.init_vs_mine_A.1/l2.csv").exists()  # the comparison
    for name in ("mixed4a_10.png", "mixed4d_3x3_pre_relu_52.png"):  # the panel's channels, in both models
        assert (results / "renders/imagenet/named" / name).exists()
        assert (results / "renders/mine_A/1/named" / name).exists()
    changed = sorted(p.name for p in (results / "renders/mine_A/1/changed/imagenet_vs_mine_A.1").glob("*.png"))
    assert 3 <= len(changed) <= 6  # per layer the most and the least changed channel
    gallery = (results / "galleries/imagenet_vs_mine_A.1/index.html").read_text()
    assert gallery.count("<article") == len(changed) + 2  # and the two named channels of the panel
    assert "mixed4d_3x3_pre_relu:52" in gallery and "mixed4a:10" in gallery
    table = (results / "tables/table2.md").read_text()
    assert "pretrained vs FT" in table and "1.26" in table and "imagenet vs mine_A/1" in table

    # The report: every figure and table under its category, each figure image and the gallery's images loading.
    seen = open_report(report, tmp_path / "report")
    assert seen["categories"] == [
        "1. Findings",
        "3. Similarity (CKA, l2)",
        "4. Maximal activations",
        "5. Feature visualisation",
        "6. Study",
    ]
    assert sorted(Path(p).name for p in seen["images"]) == ["fig1.png", "fig5_cka.png", "fig6_topk.png"]
    assert all(width > 0 for width in seen["images"].values()), seen["images"]
    page = seen["pages"][str(results / "galleries/imagenet_vs_mine_A.1/index.html")]
    widths = [int(w) for w in re.findall(r'data-natural-width="(\d+)"', page)]
    assert 'data-ready="1"' in page and len(widths) == 2 * (len(changed) + 2) and min(widths) > 0  # the renders
    thumbs = re.findall(r'<a class="thumb[^"]*" href="([^"]+)"', page)
    assert len(thumbs) == 2 * 2 * (len(changed) + 2)  # top-2 sets of both models
    assert all((results / "galleries/imagenet_vs_mine_A.1" / t).is_file() for t in thumbs)
    assert "pretrained vs FT" in seen["pages"][str(results / "tables/table2.html")]
    assert '<td class="marked">1 (≠ paper)</td>' in seen["pages"][str(results / "tables/table5.html")]
    findings = seen["pages"][str(results / "findings.html")]
    assert "CKA between imagenet and mine_A/1" in findings  # judged on the run's own numbers
    # Entropy: fewer than 3 layers from the middle on; no init_distance, fine_tuning or double_fine_tuning here.
    assert findings.count('class="cannot-be-judged"') == 5
    assert re.search(r'<tr class="(holds|does-not-hold)"><td class="verdict">[^<]+</td><td><b>linear CKA', findings)

    # Reruns: nothing; a figure's style or pairs: that figure; the render steps: renders, panel, gallery; a mode's
    # learning rate: its run and everything downstream of it, never the data, the pretrained model or its analyses.
    built = copy.deepcopy(config)

    def scheduled(change):
        """The jobs a dry run schedules after one edit of the built config (each edit alone)."""
        edited = copy.deepcopy(built)
        change(edited)
        cfg.write_text(yaml.safe_dump(edited))
        code, out = snakemake("-n", configfile=cfg)
        assert code == 0, out[-3000:]
        return jobs(out)

    assert scheduled(lambda c: None) == {}
    assert scheduled(lambda c: c["figures"]["fig6_topk"].update(title="another title")) == {"figure": 1, "all": 1}
    assert scheduled(lambda c: c["figures"]["fig5_cka"].update(pairs=[pair, init_pair])) == {"figure": 1, "all": 1}
    assert scheduled(lambda c: c["render"].update(steps=5)) == {
        "render": 2,
        "render_changed": 2,
        "panel": 1,
        "gallery": 1,
        "all": 1,
    }
    assert scheduled(lambda c: c["modes"]["A"].update(lr_transferred=0.002)) == {
        "train": 1,
        "activations": 2,  # mine_A/1 and its init (written by the train job); not imagenet
        "topk": 2,
        "cka": 2,
        "l2": 2,
        "overlap": 2,
        "figure": 2,
        "comparison_table": 1,
        "mode_table": 1,  # table 5 shows the rate
        "render": 1,  # mine_A/1's named channels; imagenet's are kept
        "render_changed": 2,  # both models: which channels changed most is chosen anew
        "mosaics": 1,
        "panel": 1,
        "gallery": 1,
        "findings": 1,
        "all": 1,
    }
