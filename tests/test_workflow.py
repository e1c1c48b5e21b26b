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


def test_dry_run_lists_the_dag_of_both_configs():
    code, out = snakemake("-n")
    assert code == 0, out
    assert jobs(out) == {"download_dataset": 3, "image_store": 3, "all": 1}
    code, out = snakemake("-n", configfile=DEMO_CONFIG)
    assert code == 0, out
    assert jobs(out)["demo_dataset"] == 3 and jobs(out)["image_store"] == 3
    assert "Config file config.yaml is extended" not in out  # the demo replaces the paper config


def test_demo_data_rules_build_the_stores_and_rerun_only_what_changed(tmp_path):
    cfg, config = tiny_demo(tmp_path)
    code, out = snakemake(configfile=cfg)
    assert code == 0, out
    for name in config["datasets"]:
        info = read_store_info(tmp_path / f"results/data/{name}/store.h5")
        assert info["store_size"] == 72 and info["n"] == 4 * len(info["classes"])
        log = (tmp_path / f"results/logs/image_store/{name}.log").read_text()
        assert f"{name}: stored {info['n']} images" in log
    code, out = snakemake("-n", configfile=cfg)
    assert "Nothing to be done" in out
    # A new store size changes only the stores' params: the generated images are kept.
    cfg, _ = tiny_demo(tmp_path, store_size=64)
    code, out = snakemake("-n", configfile=cfg)
    assert jobs(out) == {"image_store": 3, "all": 1}, out
