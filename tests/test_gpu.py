"""Local GPU assignment: concurrent jobs never share a device id (checked with fake ids, no GPU needed); a job's
TensorFlow start-up."""

import json
import os
import subprocess
import sys

import pytest

from .workflow_helpers import jobs, snakemake

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
    assert jobs(out)["train"] == 48  # 42 InceptionV1 trainings, 6 of ResNet-50 and VGG16
    code, out = snakemake("-n", "--workflow-profile", "workflow/profiles/slurm")
    assert code == 0, out
    assert jobs(out)["train"] == 48


def test_device_set_up_twice_in_one_process_touches_memory_growth_once(monkeypatch):
    """TensorFlow refuses memory growth once a GPU is initialised: a second training call must not ask again."""
    import keras
    import tensorflow as tf

    from artfinetune import gpu

    fake = tf.config.PhysicalDevice(name="/physical_device:GPU:0", device_type="GPU")
    calls = []

    def set_memory_growth(device, enable):
        if calls:
            raise RuntimeError("Physical devices cannot be modified after being initialized")
        calls.append((device.name, enable))

    monkeypatch.setattr(gpu, "_MEMORY_GROWTH_DONE", False)
    monkeypatch.setattr(tf.config, "list_physical_devices", lambda kind=None: [fake] if kind == "GPU" else [])
    monkeypatch.setattr(tf.config.experimental, "set_memory_growth", set_memory_growth)
    monkeypatch.setattr(tf.config.experimental, "get_device_details", lambda d: {"device_name": "Fake GPU"})
    logged = []
    monkeypatch.setattr(gpu.log, "warning", lambda *a: logged.append(a))
    try:
        assert gpu.configure_devices() == "GPU:0 (Fake GPU)"
        assert gpu.configure_devices(mixed_precision=True) == "GPU:0 (Fake GPU)"
    finally:
        keras.mixed_precision.set_global_policy("float32")
    assert calls == [("/physical_device:GPU:0", True)] and not logged


JOB_START = """
import json, sys
from artfinetune.gpu import start_tensorflow_job
start_tensorflow_job(1)
loaded = {name: name in sys.modules for name in ("tensorflow", "keras", "sklearn", "pandas", "matplotlib")}
finders = [type(f).__name__ for f in sys.meta_path]
import keras.src.wrappers.fixes
from sklearn.metrics import average_precision_score
import pandas
import matplotlib.pyplot as plt
print(json.dumps({
    "loaded": loaded,
    "finders": finders,
    "keras_sees_sklearn": keras.src.wrappers.fixes.sklearn is not None,
    "ap": float(average_precision_score([1, 0, 1, 0], [0.9, 0.8, 0.7, 0.1])),
    "sum": int(pandas.DataFrame({"a": [1, 2]})["a"].sum()),
    "figure": type(plt.figure()).__name__,
}))
"""


def test_a_job_starts_tensorflow_without_kerass_extras_and_imports_them_later_as_usual():
    """A job's TensorFlow comes without Keras's scikit-learn, pandas and matplotlib integrations (what makes its
    start-up 2-3 s shorter); the packages themselves import and work afterwards."""
    proc = subprocess.run([sys.executable, "-c", JOB_START], capture_output=True, text=True)
    assert proc.returncode == 0, proc.stderr[-3000:]
    got = json.loads(proc.stdout.splitlines()[-1])
    assert got["loaded"] == {"tensorflow": True, "keras": True, "sklearn": False, "pandas": False, "matplotlib": False}
    assert "_WithoutKerasExtras" not in got["finders"]  # refused only while TensorFlow imported
    assert not got["keras_sees_sklearn"]
    assert got["ap"] == pytest.approx((1 + 2 / 3) / 2, rel=1e-12)  # by hand: positives at ranks 1 and 3
    assert got["sum"] == 3 and got["figure"] == "Figure"
