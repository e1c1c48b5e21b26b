"""A stand-in SLURM for tests: `sbatch`, `sacct`, `squeue`, `srun`, `sinfo`, `sacctmgr`, `scontrol`.

:func:`install` writes one small shell script per command into a folder to put first on
PATH; each runs ``python fake_slurm.py COMMAND ARGS`` with a state folder that holds the
logs and the jobs. What they do is what snakemake-executor-plugin-slurm 2.8.0 and its
jobstep plugin (0.6.1) call and parse:

- ``sbatch --parsable ... --wrap=CMD`` appends its arguments (one JSON list a line) to
  ``sbatch.log``, starts CMD in the background in the ``-D`` folder with its output in the
  ``--output`` file (``%j`` = job id), ``SLURM_JOB_ID`` set and, with ``--gpus=N``,
  ``SLURM_GPUS=N`` (the jobstep runs ``srun --gpus=N`` only then), and prints the job id.
- ``sacct ... --name RUN`` prints ``id|STATE`` for the jobs of that name: RUNNING, then
  COMPLETED or FAILED from the command's exit code. It waits (up to 20 s) for the running
  jobs to end before answering, so a test is not paced by the plugin's status-check
  interval, which grows by 10 s after every check that finds no job finished.
- ``srun OPTIONS CMD`` appends the options and ``SLURM_JOB_ID`` to ``srun.log`` and runs CMD.
- ``sacctmgr`` names the account of the SLURM profile (``your_account``), ``sinfo`` the
  partitions ``cpu`` (default) and ``gpu``; ``scontrol`` and ``squeue`` say little.
"""

from __future__ import annotations

import fcntl
import json
import os
import shlex
import subprocess
import sys
import time
from pathlib import Path

COMMANDS = ["sbatch", "sacct", "squeue", "srun", "sinfo", "sacctmgr", "scontrol"]
ACCOUNT = "your_account"
WAIT_SECONDS = 20.0


def install(bin_dir: Path, state_dir: Path) -> Path:
    """Write the fake commands into bin_dir (returned) with their state in state_dir."""
    bin_dir.mkdir(parents=True, exist_ok=True)
    (state_dir / "jobs").mkdir(parents=True, exist_ok=True)
    for name in COMMANDS:
        script = bin_dir / name
        script.write_text(
            f"#!/bin/sh\nFAKE_SLURM_DIR={shlex.quote(str(state_dir))} "
            f'exec {shlex.quote(sys.executable)} {shlex.quote(__file__)} {name} "$@"\n'
        )
        script.chmod(0o755)
    return bin_dir


def sbatch_calls(state_dir: Path) -> list[list[str]]:
    """The argument lists of every sbatch call so far."""
    log = state_dir / "sbatch.log"
    return [json.loads(line) for line in log.read_text().splitlines()] if log.exists() else []


def srun_calls(state_dir: Path) -> list[dict]:
    log = state_dir / "srun.log"
    return [json.loads(line) for line in log.read_text().splitlines()] if log.exists() else []


def option(args: list[str], *names: str) -> str | None:
    """The value of the first of names (``--name=value``, ``--name value`` or ``-X value``) in args."""
    for i, arg in enumerate(args):
        for name in names:
            if arg.startswith(name + "=") and name.startswith("--"):
                return arg.split("=", 1)[1]
            if arg == name and i + 1 < len(args):
                return args[i + 1]
    return None


def _append(path: Path, record) -> None:
    with open(path, "a") as f:
        fcntl.flock(f, fcntl.LOCK_EX)
        f.write(json.dumps(record) + "\n")


def _next_id(state: Path) -> str:
    with open(state / "counter", "a+") as f:
        fcntl.flock(f, fcntl.LOCK_EX)
        f.seek(0)
        job_id = int(f.read() or 1000) + 1
        f.seek(0)
        f.truncate()
        f.write(str(job_id))
    return str(job_id)


def sbatch(state: Path, args: list[str]) -> int:
    _append(state / "sbatch.log", args)
    wrap = option(args, "--wrap")
    if wrap is None:
        print("fake sbatch: only --wrap submissions are supported", file=sys.stderr)
        return 1
    job_id = _next_id(state)
    jobs = state / "jobs"
    (jobs / f"{job_id}.name").write_text(option(args, "--job-name", "-J") or "")
    env = {**os.environ, "SLURM_JOB_ID": job_id, "SLURM_JOBID": job_id}
    env.pop("FAKE_SLURM_DIR", None)
    gpus = option(args, "--gpus", "-G")
    if gpus:
        env["SLURM_GPUS"] = gpus.split(":")[-1]
    output = (option(args, "--output", "-o") or f"slurm-{job_id}.out").replace("%j", job_id)
    workdir = option(args, "-D", "--chdir") or os.getcwd()
    rc = jobs / f"{job_id}.rc"
    # The job's exit code goes to <id>.rc through a rename, so sacct never reads half a file.
    runner = 'sh -c "$1"; echo $? > "$2.tmp"; mv "$2.tmp" "$2"'
    with open(output, "w") as out:
        subprocess.Popen(
            ["sh", "-c", runner, "fake-slurm-job", wrap, str(rc)],
            cwd=workdir,
            env=env,
            stdin=subprocess.DEVNULL,
            stdout=out,
            stderr=subprocess.STDOUT,
            start_new_session=True,
        )
    print(job_id)
    return 0


def _states(jobs: Path, name: str) -> dict[str, str]:
    states = {}
    for name_file in sorted(jobs.glob("*.name")):
        if name_file.read_text() != name:
            continue
        job_id = name_file.stem
        rc = jobs / f"{job_id}.rc"
        states[job_id] = "RUNNING" if not rc.exists() else "COMPLETED" if rc.read_text().strip() == "0" else "FAILED"
    return states


def sacct(state: Path, args: list[str]) -> int:
    name = option(args, "--name")
    if name is None:  # e.g. the failure reason of a job step, or the user's accounts: nothing to say
        return 0
    deadline = time.monotonic() + WAIT_SECONDS
    states = _states(state / "jobs", name)
    while "RUNNING" in states.values() and time.monotonic() < deadline:
        time.sleep(0.2)
        states = _states(state / "jobs", name)
    for job_id, status in states.items():
        print(f"{job_id}|{status}")
    return 0


def srun(state: Path, args: list[str]) -> int:
    n_options = next((i for i, a in enumerate(args) if not a.startswith("-")), len(args))
    _append(state / "srun.log", {"job": os.environ.get("SLURM_JOB_ID"), "options": args[:n_options]})
    command = args[n_options:]
    if not command:
        print("fake srun: no command", file=sys.stderr)
        return 1
    os.execvp(command[0], command)


def main(argv: list[str]) -> int:
    command, args = argv[0], argv[1:]
    state = Path(os.environ["FAKE_SLURM_DIR"])
    if command == "sbatch":
        return sbatch(state, args)
    if command == "sacct":
        return sacct(state, args)
    if command == "srun":
        return srun(state, args)
    if command == "sacctmgr":
        print(ACCOUNT)
    elif command == "sinfo":
        print("cpu*\ngpu")
    elif command == "scontrol" and args[:2] == ["show", "config"]:
        print("MaxArraySize            = 1001")
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
