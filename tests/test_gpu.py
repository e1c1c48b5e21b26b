"""Local GPU assignment: concurrent jobs never share a device id (checked with fake ids, no GPU needed)."""

import json
import os
import subprocess
import sys

from .test_workflow import jobs, snakemake

CLAIM = """
import json, os, sys, time
from artfinetune.gpu import claim_device
gpu = claim_device(sys.argv[1])
start = time.monotonic()
time.sleep(0.4)
print(json.dumps({"gpu": gpu, "cuda": os.environ.get("CUDA_VISIBLE_DEVICES"), "start": start, "end": time.monotonic()}))
"""


def test_concurrent_jobs_each_get_their_own_device(tmp_path):
    env = {k: v for k, v in os.environ.items() if k not in ("CUDA_VISIBLE_DEVICES", "SLURM_JOB_ID")}
    env["ARTFT_GPU_IDS"] = "0,1"
    procs = [
        subprocess.Popen([sys.executable, "-c", CLAIM, str(tmp_path)], stdout=subprocess.PIPE, text=True, env=env)
        for _ in range(6)
    ]
    runs = [json.loads(p.communicate()[0]) for p in procs]
    assert {r["gpu"] for r in runs} == {"0", "1"} and all(r["gpu"] == r["cuda"] for r in runs)
    for i, a in enumerate(runs):
        for b in runs[i + 1 :]:
            if a["gpu"] == b["gpu"]:  # the same device: their lifetimes must not overlap
                assert a["end"] <= b["start"] or b["end"] <= a["start"]


def test_no_claim_under_slurm_or_when_devices_are_set(tmp_path):
    from artfinetune.gpu import claim_device

    env = dict(os.environ)
    try:
        os.environ.update(ARTFT_GPU_IDS="0,1", SLURM_JOB_ID="42")
        os.environ.pop("CUDA_VISIBLE_DEVICES", None)
        assert claim_device(tmp_path) is None and "CUDA_VISIBLE_DEVICES" not in os.environ
    finally:
        os.environ.clear()
        os.environ.update(env)


def test_profiles_dry_run():
    code, out = snakemake("-n", "--workflow-profile", "workflow/profiles/local-gpu")
    assert code == 0, out
    assert jobs(out)["train"] == 42
    code, out = snakemake("-n", "--workflow-profile", "workflow/profiles/slurm")
    assert code == 0, out
    assert jobs(out)["train"] == 42
