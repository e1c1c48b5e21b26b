"""Training stopped and started again: a stopped run resumes to the uninterrupted result, a stale checkpoint (another
setup, another init) is not resumed. Apart from test_train.py so that pytest-xdist runs the two files side by side.
A run killed with SIGKILL in the middle of an epoch is tested where it happens, through the workflow
(test_workflow.py: the rerun schedules only that job and equals a clean run) and through SLURM (test_slurm.py:
scancel, requeue, the same weights)."""

import shutil

import keras
import numpy as np
import pytest

from artfinetune.model.files import save_model
from artfinetune.model.inception import build_inception_v1
from artfinetune.train.loop import train_run

from .train_fixtures import SIZE, all_weights, make_tiny, mode


@pytest.fixture(scope="module")
def tiny(tmp_path_factory):
    """A 9-class styles store (4 images a class, 72 px) and a pretrained-looking 12-class init model."""
    return make_tiny(tmp_path_factory)


def test_same_seed_same_weights_and_stop_resume_equals_a_clean_run(tiny, tmp_path, caplog):
    """A run stopped after its first epoch and resumed from its checkpoint equals a clean run of the same seed, bit
    for bit (so a clean run is deterministic too); another seed gives other weights."""
    store, init_path = tiny
    m = mode(epochs=3, augmentation={"crop": "random", "flip": True, "translate": 2})
    train_run(store, tmp_path / "a", m, 1, SIZE, init_path)
    train_run(store, tmp_path / "c", m, 2, SIZE, init_path)
    assert train_run(store, tmp_path / "d", m, 1, SIZE, init_path, max_epochs=1) == {}
    assert (tmp_path / "d/checkpoint/state.npz").exists() and not (tmp_path / "d/model.keras").exists()
    with caplog.at_level("INFO"):
        train_run(store, tmp_path / "d", m, 1, SIZE, init_path)
    assert "resuming after epoch 1 " in caplog.text  # not a second clean run
    a, c, d = (all_weights(tmp_path / x / "model.keras") for x in "acd")
    assert all(np.array_equal(x, y) for x, y in zip(a, d, strict=True))
    assert not all(np.array_equal(x, y) for x, y in zip(a, c, strict=True))
    assert not (tmp_path / "d/checkpoint").exists()


@pytest.fixture(scope="module")
def rebuilt_init(tiny, tmp_path_factory):
    """An init model before and after it was rebuilt (new weights), and a clean run from the rebuilt one."""
    store, _ = tiny
    folder = tmp_path_factory.mktemp("rebuilt")
    for seed in (5, 6):
        keras.utils.set_random_seed(seed)
        save_model(build_inception_v1(12, input_size=SIZE), folder / f"init_{seed}.keras")
    train_run(store, folder / "clean", mode(epochs=2), 1, SIZE, folder / "init_6.keras")
    return folder / "init_5.keras", folder / "init_6.keras", folder / "clean"


def test_a_checkpoint_of_another_setup_is_not_resumed(tiny, rebuilt_init, tmp_path, caplog):
    """A run killed under one mode, its mode edited, rerun: it starts afresh and equals a clean run of the new mode."""
    store, _ = tiny
    _, init_path, clean = rebuilt_init  # clean: mode(epochs=2), seed 1, from this init
    train_run(store, tmp_path, mode(epochs=3, lr_head=0.02), 1, SIZE, init_path, max_epochs=1)
    with caplog.at_level("INFO"):
        train_run(store, tmp_path, mode(epochs=2), 1, SIZE, init_path)  # the mode was edited
    assert "another setup (mode changed); starting afresh" in caplog.text and "resuming" not in caplog.text
    a, b = all_weights(tmp_path / "model.keras"), all_weights(clean / "model.keras")
    assert all(np.array_equal(x, y) for x, y in zip(a, b, strict=True))


def test_a_checkpoint_from_another_init_is_not_resumed_even_at_the_same_path(tiny, rebuilt_init, tmp_path, caplog):
    """Kill a run, retrain its init (same file name, new weights), rerun: it starts afresh and equals a clean run."""
    store, _ = tiny
    before, after, clean = rebuilt_init
    init_path = tmp_path / "init_model.keras"
    shutil.copyfile(before, init_path)
    train_run(store, tmp_path / "run", mode(epochs=2), 1, SIZE, init_path, max_epochs=1)  # "killed" after epoch 1
    shutil.copyfile(after, init_path)  # the init was rebuilt in the meantime
    with caplog.at_level("INFO"):
        train_run(store, tmp_path / "run", mode(epochs=2), 1, SIZE, init_path)
    assert "another setup (init changed); starting afresh from epoch 0" in caplog.text
    assert "resuming" not in caplog.text
    a, b = all_weights(tmp_path / "run/model.keras"), all_weights(clean / "model.keras")
    assert all(np.array_equal(x, y) for x, y in zip(a, b, strict=True))


def test_a_run_killed_before_its_first_epoch_ended_takes_the_new_init(tiny, rebuilt_init, tmp_path):
    store, _ = tiny
    before, after, clean = rebuilt_init
    init_path = tmp_path / "init_model.keras"
    shutil.copyfile(before, init_path)
    train_run(store, tmp_path / "run", mode(epochs=2), 1, SIZE, init_path, max_epochs=0)  # only checkpoint/init.keras
    assert (tmp_path / "run/checkpoint/init.keras").exists()
    shutil.copyfile(after, init_path)  # the init changed before the rerun
    train_run(store, tmp_path / "run", mode(epochs=2), 1, SIZE, init_path)
    a, b = all_weights(tmp_path / "run/init.keras"), all_weights(clean / "init.keras")
    assert all(np.array_equal(x, y) for x, y in zip(a, b, strict=True))
