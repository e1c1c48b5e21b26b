"""The tests' one-node SLURM (tests/slurm/): found running, or started, or the test skipped (failed in CI).

``.ci/run`` installs Debian's slurmctld, slurmd, slurm-client and munge and starts the cluster with
``tests/slurm/start.sh``; elsewhere the fixture starts it itself when the packages are there and it runs as
root, and skips with the packages' names when not. With ``ARTFT_REQUIRE_SLURM=1``
(CI) a missing cluster fails the test instead.
"""

from __future__ import annotations

import os
import re
import shutil
import subprocess
from pathlib import Path

import pytest
import yaml

from .conftest import REPO

START = REPO / "tests/slurm/start.sh"
PACE = REPO / "tests/slurm/pace"  # an squeue that answers when a job has finished (see the script)
STATE = Path(os.environ.get("ARTFT_SLURM_STATE", "/tmp/artfinetune-slurm"))
PACKAGES = "Debian's slurmctld, slurmd, slurm-client and munge"
PROFILE = REPO / "workflow/profiles/slurm/config.yaml"


def _answers(env: dict) -> bool:
    try:
        out = subprocess.run(["sinfo", "-h", "-o", "%P"], env=env, capture_output=True, text=True, timeout=20)
    except (OSError, subprocess.SubprocessError):
        return False
    return out.returncode == 0 and "gpu" in out.stdout.split()


def cluster_env() -> dict:
    """An environment whose SLURM commands reach the tests' cluster (started here if need be)."""
    env = {**os.environ, "PATH": f"{PACE}{os.pathsep}{os.environ['PATH']}"}
    if shutil.which("sinfo") and _answers(env):
        return env
    why = None
    if not all(shutil.which(c) for c in ("slurmctld", "slurmd", "sbatch", "munged")):
        why = f"needs a SLURM cluster: install {PACKAGES}, then run tests/slurm/start.sh as root"
    elif os.geteuid() != 0:
        why = "needs the tests' SLURM cluster: run tests/slurm/start.sh as root"
    else:
        started = subprocess.run([START, STATE], capture_output=True, text=True, timeout=120)
        if started.returncode != 0 or not _answers(env):
            why = f"tests/slurm/start.sh could not start the cluster: {started.stdout[-1500:]}{started.stderr[-1500:]}"
    if why:
        if os.environ.get("ARTFT_REQUIRE_SLURM") == "1":
            pytest.fail(why)
        pytest.skip(why)
    return env


def node_limits(env: dict) -> tuple[int, int]:
    """(CPUs, memory in MB) of the cluster's one node."""
    out = subprocess.run(["sinfo", "-h", "-N", "-o", "%c|%m"], env=env, capture_output=True, text=True, check=True)
    cpus, memory = out.stdout.split()[0].split("|")
    return int(cpus), int(memory)


def site_profile(folder: Path, env: dict, **extra) -> Path:
    """The shipped SLURM profile with only what a site sets for this node changed: the account, the core count
    (one per job, so that two jobs share this 2-core node), the memory (a quarter of the node's) and, since
    this cluster has no accounting database, the status command. ``extra`` keys are added as they are."""
    _, memory = node_limits(env)
    profile = yaml.safe_load(PROFILE.read_text())
    profile["default-resources"]["slurm_account"] = "artfinetune"
    profile["cores"] = 1
    profile["set-threads"] = {rule: 1 for rule in profile["set-threads"]}
    for resources in [profile["default-resources"], *profile["set-resources"].values()]:
        if "mem_mb" in resources:
            resources["mem_mb"] = min(resources["mem_mb"], memory // 4)
    profile["slurm-status-command"] = "squeue"
    profile.update(extra)
    folder.mkdir(parents=True, exist_ok=True)
    (folder / "config.yaml").write_text(yaml.safe_dump(profile))
    return folder


def show_jobs(env: dict, workdir: Path) -> list[dict]:
    """Every job the controller still knows whose working directory is ``workdir``, as scontrol's key=value pairs."""
    out = subprocess.run(["scontrol", "-o", "show", "job"], env=env, capture_output=True, text=True, check=True)
    jobs = []
    for line in out.stdout.splitlines():
        fields = dict(re.findall(r"(\w+)=(\S*)", line))
        if fields.get("WorkDir") == str(workdir):
            jobs.append(fields)
    return jobs


def rule_of(job: dict) -> str:
    """The rule of a job the SLURM executor submitted (its comment: rule_<rule>[_wildcards_<...>])."""
    return re.match(r"rule_(.+?)(?:_wildcards_.*)?$", job["Comment"])[1]
