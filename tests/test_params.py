"""Rule params follow the config's content, not its formatting: the same config with its keys in another order
schedules nothing on a built workflow, a real change schedules the jobs that depend on it."""

import os
import random
import re
import subprocess
import sys
from pathlib import Path

import numpy as np
import yaml

from artfinetune.data.demo import assign_splits, split_counts
from artfinetune.io import params_json
from artfinetune.render.channels import named_channels
from artfinetune.study.names import analysis_tensors

from .conftest import DEMO_CONFIG, REPO

ENV = {**os.environ, "PATH": f"{os.path.dirname(sys.executable)}:{os.environ['PATH']}"}
# Rules whose outputs are folders (`directory(...)`); demo_dataset's images folder is its output not ending in .csv.
FOLDER_RULES = {"render", "render_changed", "mosaics", "gallery"}


def shuffled(value, rng: random.Random):
    """``value`` with the keys of every mapping in it in a random order; lists keep theirs (it is content)."""
    if isinstance(value, dict):
        keys = list(value)
        rng.shuffle(keys)
        return {k: shuffled(value[k], rng) for k in keys}
    if isinstance(value, list):
        return [shuffled(v, rng) for v in value]
    return value


def test_params_json_sorts_keys_at_every_level_and_keeps_list_order():
    a = {"b": 1, "a": {"d": [3, {"z": 1, "y": 2}], "c": "é"}}
    b = {"a": {"c": "é", "d": [3, {"y": 2, "z": 1}]}, "b": 1}
    assert params_json(a) == params_json(b) == '{"a": {"c": "é", "d": [3, {"y": 2, "z": 1}]}, "b": 1}'
    assert params_json([2, 1]) != params_json([1, 2])


def test_lists_built_from_config_mappings_do_not_follow_their_key_order():
    pair = ["imagenet", "r/1"]

    def config(panels_order):
        def columns(*channels):
            return {"show": ["renders", "topk"], "columns": [{"pair": pair, "channel": c} for c in channels]}

        panels = {
            "zeta": columns("mixed4b_3x3_bottleneck_pre_relu:1"),
            "alpha": columns("mixed3a_5x5:2", "mixed4d_3x3_pre_relu:52"),
        }
        return {
            "layers": ["conv2d0", "mixed4a"],
            "tensors": ["mixed5b"],
            "init": {"imagenet": {"kind": "lucid"}},
            "seeds": [1],
            "runs": {"r": {"dataset": "d", "init": "imagenet", "mode": "A"}},
            "render": {"channels": ["mixed4d_3x3_pre_relu:52"]},
            "panels": {name: panels[name] for name in panels_order},
            "galleries": [pair],
        }

    for order in (["zeta", "alpha"], ["alpha", "zeta"]):
        # the layers and tensors as listed, then render.channels', then the panels' in the order of their names
        assert analysis_tensors(config(order)) == [
            "conv2d0",
            "mixed4a",
            "mixed5b",
            "mixed4d_3x3",
            "mixed3a_5x5",
            "mixed4b_3x3_bottleneck",
        ]
        assert named_channels(config(order), pair) == [
            "mixed4d_3x3_pre_relu:52",
            "mixed3a_5x5:2",
            "mixed4b_3x3_bottleneck_pre_relu:1",
        ]


def test_demo_splits_do_not_follow_the_order_of_their_fractions():
    # 7 items at 0.6 / 0.2 / 0.2: 4.2, 1.4, 1.4 round to 4, 1, 1; the one left goes to train, the first split
    forward, backward = {"train": 0.6, "val": 0.2, "test": 0.2}, {"test": 0.2, "val": 0.2, "train": 0.6}
    assert split_counts(7, forward) == split_counts(7, backward) == {"train": 5, "val": 1, "test": 1}
    one, other = (assign_splits(7, f, np.random.default_rng(3)) for f in (forward, backward))
    assert one == other


def snakemake(workdir: Path, configfile: Path, *args) -> tuple[str, str]:
    cmd = [sys.executable, "-m", "snakemake", *args, "--cores", "1", "--configfile", str(configfile)]
    cmd += ["--snakefile", str(REPO / "Snakefile"), "--directory", str(workdir)]
    proc = subprocess.run(cmd, cwd=REPO, capture_output=True, text=True, env=ENV)
    assert proc.returncode == 0, proc.stderr[-3000:]
    return proc.stdout, proc.stderr


def scheduled(output: str) -> dict[str, int]:
    """Job counts from a dry run's 'Job stats' table."""
    table = output.split("Job stats:")[1].split("Reasons:")[0] if "Job stats:" in output else ""
    return {m[1]: int(m[2]) for m in re.finditer(r"^(\w+)\s+(\d+)$", table, re.M) if m[1] != "total"}


def test_the_demo_config_with_its_keys_shuffled_schedules_nothing_on_a_built_workflow(tmp_path):
    config = yaml.safe_load(DEMO_CONFIG.read_text())
    config["results"] = str(tmp_path / "results")
    original = tmp_path / "config.yaml"
    original.write_text(yaml.safe_dump(config, sort_keys=False))

    # A built demo, cheaply: every output of the DAG made empty (folders as folders), then Snakemake's --touch
    # records each job as run, with its params, as a real run would.
    summary, _ = snakemake(tmp_path, original, "--summary")
    outputs = [line.split("\t")[:3] for line in summary.splitlines()[1:] if line.strip()]
    assert len(outputs) > 200
    for path, _, rule in outputs:
        path = Path(path)
        if rule in FOLDER_RULES or (rule == "demo_dataset" and path.suffix != ".csv"):
            path.mkdir(parents=True, exist_ok=True)
        else:
            path.parent.mkdir(parents=True, exist_ok=True)
            path.touch()
    snakemake(tmp_path, original, "--touch", "--forceall")

    # The same content, every mapping's keys in another order.
    other = shuffled(config, random.Random(0))
    assert list(other) != list(config) and list(other["modes"]) != list(config["modes"])
    assert list(other["modes"]["from_scratch"]) != list(config["modes"]["from_scratch"])
    reordered = tmp_path / "reordered.yaml"
    reordered.write_text(yaml.safe_dump(other, sort_keys=False))
    assert yaml.safe_load(reordered.read_text()) == config
    out, err = snakemake(tmp_path, reordered, "-n")
    assert "Nothing to be done" in out + err, (out + err)[-3000:]

    # One change of content: mode A's head learning rate. Its runs train again (styles_A with its 2 seeds, objects_A
    # and the three objects_styles_* runs with seed 1) and so does objects_off_the_shelf_styles, which starts from
    # styles_A; nothing upstream of training does, and only the params of the training jobs and of table 5 (which
    # prints the modes' learning rates) changed.
    other["modes"]["A"]["lr_head"] = 0.02
    reordered.write_text(yaml.safe_dump(other, sort_keys=False))
    out, err = snakemake(tmp_path, reordered, "-n")
    jobs = scheduled(out + err)
    assert jobs["train"] == 7, jobs
    assert not {"demo_dataset", "image_store", "pretrain"} & set(jobs), jobs
    changed = re.search(r"params have changed since last execution:\n\s+(.+)\n", out + err)
    assert changed and changed.group(1) == "mode_table, train", (out + err)[-3000:]
