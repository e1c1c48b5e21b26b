"""A user's own dataset (a CSV of images in several formats) through the whole study with no code change, and each
kind of edit rerunning only what depends on it. Apart from test_workflow.py so that pytest-xdist runs them side
by side."""

import copy
import re
from pathlib import Path

import yaml

from artfinetune.data.store import read_store_info

from .workflow_helpers import jobs, snakemake, tiny_demo

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
    # the gallery's most and least changed channels of one layer (each rendered channel is a second of graph)
    config["render"] = {
        "size": 64,
        "steps": 4,
        "per_layer": 1,
        "layers": ["mixed4a"],
        "channels": ["mixed4d_3x3_pre_relu:52"],
    }
    config["galleries"] = [pair]
    config["panels"] = {
        "fig1": {"columns": [{"pair": pair, "channel": c} for c in ("mixed4a:10", "mixed4d_3x3_pre_relu:52")]}
    }
    config["findings"] = {"depth": {"pair": pair}}  # the other findings cannot be judged here
    cfg.write_text(yaml.safe_dump(config))
    report = tmp_path / "report.zip"
    threads = [
        "--set-threads",
        "demo_dataset=1",
        "image_store=1",
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
    assert len(changed) == 2 and all(name.startswith("mixed4a_") for name in changed)  # the most and least changed
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
    # Entropy: fewer than 3 layers from the middle on; no init_distance, fine_tuning, double_fine_tuning or
    # render_change here.
    assert findings.count('class="cannot-be-judged"') == 6
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
        "render_change": 1,  # the gallery pair's scores, from the new renders
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
        "render_change": 1,  # the new renders scored again
        "gallery": 1,
        "findings": 1,
        "all": 1,
    }
