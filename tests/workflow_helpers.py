"""Running Snakemake on a study config from the tests: the command, a dry run's job counts, a tiny demo config."""

import os
import re
import subprocess
import sys

import yaml

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
