"""Which environment runs the rules, and the SLURM profile run on a stand-in SLURM (tests/fake_slurm.py)."""

import os
import shutil
import subprocess
import sys
import sysconfig
import venv
from pathlib import Path

import yaml

from artfinetune.data.store import read_store_info

from . import fake_slurm
from .conftest import DEMO_CONFIG, REPO
from .fixtures_http import Server, make_iconart_zip

SCRIPTS = Path(sysconfig.get_path("scripts"))  # the bin/ of the environment running the tests (.venv/bin)
# A PATH without that bin/: as if the .venv were not activated.
BARE_PATH = os.pathsep.join(p for p in ("/usr/local/bin", "/usr/bin", "/bin") if Path(p).is_dir())


def bare_env(*first: Path, **extra: str) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if k not in ("VIRTUAL_ENV", "PYTHONPATH")}
    env["PATH"] = os.pathsep.join([*map(str, first), BARE_PATH])
    assert shutil.which("artfinetune", path=env["PATH"]) is None
    return {**env, **extra}


def small_demo(tmp_path: Path, **changes) -> Path:
    """The demo config with only demo_source and its pretraining, tiny, results under tmp_path."""
    config = yaml.safe_load(DEMO_CONFIG.read_text())
    config["results"] = str(tmp_path / "results")
    config["datasets"] = {"demo_source": config["datasets"]["demo_source"]}
    config["datasets"]["demo_source"]["source"].update(images_per_class=4, image_size=16)
    config["datasets"]["demo_source"]["store_size"] = 64
    config["modes"] = {"pretrain": {**config["modes"]["pretrain"], "epochs": 1}}
    config.update(
        runs={},
        ensembles={},
        tables={},
        comparisons=[],
        figures={},
        comparison_tables={},
        mode_tables={},
        galleries=[],
        panels={},
        findings={},
    )
    config.update(changes)
    path = tmp_path / "config.yaml"
    path.write_text(yaml.safe_dump(config))
    return path


def run(cmd: list, tmp_path: Path, env: dict) -> tuple[int, str]:
    """Snakemake in its own working directory tmp_path: (exit code, stdout and stderr)."""
    cmd = [str(c) for c in [*cmd, "--snakefile", REPO / "Snakefile", "--directory", tmp_path]]
    proc = subprocess.run(cmd, cwd=tmp_path, env=env, capture_output=True, text=True, timeout=300)
    return proc.returncode, proc.stdout + proc.stderr


def test_snakemake_without_the_package_stops_with_one_sentence(tmp_path):
    """A Python that has Snakemake but not artfinetune (e.g. a conda Snakemake with --sdm conda)."""
    foreign = tmp_path / "foreign"
    venv.create(foreign, with_pip=False)
    site = foreign / f"lib/python{sys.version_info.major}.{sys.version_info.minor}/site-packages"
    # Everything our environment has but the package (installed or editable) and .pth files.
    for entry in Path(sysconfig.get_path("purelib")).iterdir():
        if not entry.name.startswith(("artfinetune", "__editable__")) and entry.suffix != ".pth":
            (site / entry.name).symlink_to(entry)
    cfg = small_demo(tmp_path)
    python = foreign / "bin/python"
    for extra in ([], ["--sdm", "conda"]):
        code, out = run([python, "-m", "snakemake", "-n", "--configfile", cfg, *extra], tmp_path, bare_env())
        assert code != 0
        assert f"Snakemake's Python ({python}) cannot import the artfinetune package" in out, out
        assert "make setup" in out and "Traceback" not in out
    # The package importable but no `artfinetune` command anywhere: the sentence of the missing command.
    env = bare_env(PYTHONPATH=str(REPO / "workflow"))
    code, out = run([python, "-m", "snakemake", "-n", "--configfile", cfg], tmp_path, env)
    assert code != 0
    assert "the artfinetune command is neither on PATH nor beside Snakemake's Python" in out, out


def test_venv_snakemake_runs_jobs_without_activation(tmp_path):
    """`.venv/bin/snakemake` with .venv/bin not on PATH: the rules find the .venv's artfinetune."""
    cfg = small_demo(tmp_path)
    table = tmp_path / "results/data/demo_source/source.csv"
    code, out = run([SCRIPTS / "snakemake", table, "--cores", "1", "--configfile", cfg], tmp_path, bare_env())
    assert code == 0, out[-3000:]
    assert table.exists() and "localrule demo_dataset:" in out


def test_slurm_profile_submits_gpu_and_cpu_jobs_and_downloads_on_the_submit_host(tmp_path):
    """The SLURM profile, run: the demo's first jobs plus a downloaded dataset served on 127.0.0.1."""
    www = tmp_path / "www"
    www.mkdir()
    make_iconart_zip(www / "IconArt_v1.zip", [(f"Q{i}", ["Mary"], "train" if i < 6 else "test") for i in range(8)])
    state = tmp_path / "slurm"
    bin_dir = fake_slurm.install(tmp_path / "bin", state)
    with Server(www) as server:
        spec = yaml.safe_load((REPO / "resources/datasets/iconart.yaml").read_text())
        spec["mirrors"] = [f"{server.url}/IconArt_v1.zip"]
        (tmp_path / "iconart.yaml").write_text(yaml.safe_dump(spec))
        iconart = yaml.safe_load((REPO / "config.yaml").read_text())["datasets"]["iconart"]
        iconart["source"]["spec"] = str(tmp_path / "iconart.yaml")
        iconart["store_size"] = 64
        cfg = small_demo(tmp_path, image_size=64)
        config = yaml.safe_load(cfg.read_text())
        config["datasets"]["iconart"] = iconart
        cfg.write_text(yaml.safe_dump(config))
        results = tmp_path / "results"
        targets = [results / "models/init/imagenet/model.keras", results / "data/iconart/store.h5"]
        cmd = [
            SCRIPTS / "snakemake",
            *targets,
            "--configfile",
            cfg,
            "--workflow-profile",
            REPO / "workflow/profiles/slurm",
            "--latency-wait",
            "5",
            "--seconds-between-status-checks",
            "1",
            "--slurm-init-seconds-before-status-checks",
            "1",
        ]
        code, out = run(cmd, tmp_path, bare_env(bin_dir))
    assert code == 0, out[-4000:]
    assert all(t.exists() for t in targets)
    assert read_store_info(results / "data/iconart/store.h5")["n"] == 8
    # One sbatch call per cluster job, named by its comment rule_<rule>[_wildcards_<...>].
    calls = {fake_slurm.option(args, "--comment"): args for args in fake_slurm.sbatch_calls(state)}
    assert sorted(calls) == [
        "rule_demo_dataset_wildcards_demo_source",
        "rule_image_store_wildcards_demo_source",
        "rule_image_store_wildcards_iconart",
        "rule_pretrain_wildcards_imagenet",
    ]
    assert "localrule download_dataset:" in out  # run by Snakemake itself, never submitted
    assert (results / "data/iconart/source.csv").exists()
    for comment, args in calls.items():
        gpu_flags = [a for a in args if a.startswith(("--gpus", "--gres", "-G"))]
        if comment.startswith("rule_pretrain"):
            assert gpu_flags == ["--gpus=1"] and fake_slurm.option(args, "-p") == "gpu", args
        else:
            assert gpu_flags == [] and fake_slurm.option(args, "-p") == "cpu", args
        assert fake_slurm.option(args, "-A") == "your_account", args
    # Inside the allocation the job step asks srun for the GPU too (only a job with SLURM_GPUS set).
    steps = {s["job"]: s["options"] for s in fake_slurm.srun_calls(state)}
    assert len(steps) == 4
    assert sorted("--gpus=1" in options for options in steps.values()) == [False, False, False, True]
