import os
import subprocess
import sys
import warnings

import keras
import numpy as np
import pytest
import tensorflow as tf

from artfinetune.data.reader import StoreReader
from artfinetune.errors import UserError
from artfinetune.model.files import load_model
from artfinetune.model.inception import build_inception_v1
from artfinetune.train.loop import (
    Trainer,
    any_batch_size,
    head_loss,
    learning_rate,
    logits_model,
    run_loss,
    train_run,
)
from artfinetune.train.setup import block_layers, build_run_model

from .conftest import REPO
from .train_fixtures import SIZE, make_tiny, mode, tiny_store


@pytest.fixture(scope="module")
def tiny(tmp_path_factory):
    """A 9-class styles store (4 images a class, 72 px) and a pretrained-looking 12-class init model."""
    return make_tiny(tmp_path_factory)


def _weights(model, names):
    return {n: [w.copy() for w in model.get_layer(n).get_weights()] for n in names}


@pytest.mark.parametrize("optimizer", ["sgd", "adam"])
def test_one_step_moves_head_and_transferred_layers_by_their_own_rates(tiny, optimizer):
    store, init_path = tiny
    run = build_run_model(mode(optimizer=optimizer), 9, "single_label", SIZE, 1, load_model(init_path))
    assert run.head == ["softmax2_pre_activation"] and "mixed5b_5x5_pre_relu" in run.body
    trainer = Trainer(run, mode(optimizer=optimizer), "single_label")
    images, labels = next(iter(StoreReader(store, "train", 8, SIZE).epoch(0)))
    x, y = tf.convert_to_tensor(images), tf.convert_to_tensor(labels)
    variables = run.model.trainable_variables
    with tf.GradientTape() as tape:
        loss, _ = trainer.losses(x, y, training=True)
    grads = {v.path: g.numpy() for v, g in zip(variables, tape.gradient(loss, variables), strict=True)}
    before = {v.path: v.numpy().copy() for v in variables}
    trainer._step(x, y)
    for group, names, lr in (("head", run.head, 0.01), ("transferred", run.body, 0.001)):
        for v in run.variables(names):
            delta, g = v.numpy() - before[v.path], grads[v.path]
            if optimizer == "sgd":  # first SGD step with momentum: w -= lr * g
                # tolerance: float32 roundoff of w - lr * g, and the compiled step's gradient differing from
                # this eager one in the last digits (reduction order); a wrong rate is off by 10x
                tol = 2 * np.finfo(np.float32).eps * np.abs(before[v.path]).max() + 1e-3 * lr * np.abs(g).max()
                np.testing.assert_allclose(delta, -lr * g, rtol=1e-3, atol=tol, err_msg=v.path)
            else:  # first Adam step (bias-corrected m = g, v = g^2): w -= lr * g / (|g| + eps / sqrt(1 - beta2))
                opt = trainer.groups[group][0]
                expected = lr * g / (np.abs(g) + opt.epsilon / np.sqrt(1 - opt.beta_2))
                big = np.abs(g) > 1e-5  # where the update is close to lr, so a wrong rate cannot hide
                np.testing.assert_allclose(delta[big], -expected[big], rtol=2e-2, err_msg=v.path)


def test_frozen_layers_stay_bit_identical_and_reinitialised_ones_differ(tiny, tmp_path):
    store, init_path = tiny
    end = mode(
        frozen=["conv2d0..mixed3b"],
        reinit=["mixed4a..mixed5b"],
        optimizer="adam",
        lr_head=1e-3,
        lr_transferred=1e-3,
        augmentation={"crop": "random", "flip": True, "translate": 4},
        epochs=1,
    )
    train_run(store, tmp_path, end, seed=1, image_size=SIZE, init_model=init_path)
    source, start, trained = (
        load_model(init_path),
        load_model(tmp_path / "init.keras"),
        load_model(tmp_path / "model.keras"),
    )
    frozen = block_layers(trained, ["conv2d0", "conv2d1", "conv2d2", "mixed3a", "mixed3b"])
    reinit = block_layers(trained, ["mixed4a", "mixed4b", "mixed4c", "mixed4d", "mixed4e", "mixed5a", "mixed5b"])
    assert len(frozen) == 3 + 2 * 6 and len(reinit) == 7 * 6
    for name in frozen:
        for a, b in zip(source.get_layer(name).get_weights(), trained.get_layer(name).get_weights(), strict=True):
            assert np.array_equal(a, b), name
    for name in reinit:
        assert not np.array_equal(source.get_layer(name).get_weights()[0], start.get_layer(name).get_weights()[0])
        assert not np.array_equal(start.get_layer(name).get_weights()[0], trained.get_layer(name).get_weights()[0])
    log_lines = (tmp_path / "history.csv").read_text().splitlines()
    assert log_lines[0].startswith("epoch,train_loss,val_loss,lr_head,lr_transferred")


def test_off_the_shelf_trains_only_the_linear_classifier(tiny, tmp_path):
    store, init_path = tiny
    train_run(store, tmp_path, mode(kind="off_the_shelf", lr_transferred=0, epochs=1), 1, SIZE, init_path)
    source, trained = load_model(init_path), load_model(tmp_path / "model.keras")
    start = load_model(tmp_path / "init.keras")
    head = "softmax2_pre_activation"
    for before, after in zip(start.get_layer(head).get_weights(), trained.get_layer(head).get_weights(), strict=True):
        assert np.abs(after - before).max() > 1e-4, "the linear classifier did not train"
    for layer in trained.layers:
        if layer.weights and layer.name != "softmax2_pre_activation":
            assert all(
                np.array_equal(a, b)
                for a, b in zip(layer.get_weights(), source.get_layer(layer.name).get_weights(), strict=True)
            ), layer.name
    assert trained.get_layer("softmax2_pre_activation").get_weights()[0].shape == (1024, 9)


def test_a_step_is_traced_once_for_every_batch_size():
    traces = []

    def step(images, labels):
        traces.append(images.shape)  # runs while tracing only
        return tf.reduce_sum(tf.cast(images, tf.float32)) + tf.reduce_sum(labels)

    traced = any_batch_size(step)
    for n in (16, 16, 5):  # full batches, then an epoch's smaller last one
        assert float(traced(tf.ones([n, 8, 8, 3], tf.uint8), tf.ones([n], tf.float32))) == n * 8 * 8 * 3 + n
    assert len(traces) == 1 and traces[0].as_list() == [None, 8, 8, 3]


def test_deep_supervision_loss_is_the_weighted_sum():
    keras.utils.set_random_seed(0)
    model = build_inception_v1(4, input_size=SIZE, aux_heads=True)
    x = np.random.default_rng(0).uniform(0, 255, (3, SIZE, SIZE, 3)).astype(np.float32)
    y = np.array([0, 3, 1])
    with warnings.catch_warnings():  # the logits model takes a batch as the model does, not a list of one input
        warnings.simplefilter("error")
        outputs = {k: np.asarray(v, np.float64) for k, v in logits_model(model)(x).items()}
    # by hand: -log softmax(z)_y = log sum exp z - z_y
    ce = {k: (np.log(np.exp(z).sum(axis=1)) - z[np.arange(3), y]).mean() for k, z in outputs.items()}
    total, main = run_loss(outputs, y, "single_label")
    assert float(main) == pytest.approx(ce["softmax2"], rel=1e-5)
    assert float(total) == pytest.approx(ce["softmax2"] + 0.3 * ce["softmax0"] + 0.3 * ce["softmax1"], rel=1e-5)


def test_multi_label_loss_is_the_sum_of_per_class_binary_cross_entropies():
    z = np.log(np.array([[0.9, 0.2, 0.6]]) / (1 - np.array([[0.9, 0.2, 0.6]])))  # logits of these probabilities
    y = np.array([[1, 0, 0]], np.float32)
    expected = -(np.log(0.9) + np.log(0.8) + np.log(0.4))
    assert float(head_loss(z.astype(np.float32), y, "multi_label")) == pytest.approx(expected, rel=1e-5)


@pytest.mark.parametrize(
    ("task", "labels", "loss", "bias_grad"),
    [
        # logits (30, 0), true class 1: loss log(1 + e^30) = 30.0, d loss / d bias = softmax - one-hot = (1, -1)
        ("single_label", [1], 30.0, [1.0, -1.0]),
        # class 0 (logit 30) absent: -log(1 - sigmoid(30)) = 30.0; class 1 (logit 0) present: log 2;
        # d loss / d bias = sigmoid(z) - y = (1, -0.5)
        ("multi_label", [[0, 1]], 30.0 + np.log(2), [1.0, -0.5]),
    ],
)
def test_a_confident_mistake_keeps_its_loss_and_gradient_under_mixed_precision(task, labels, loss, bias_grad):
    x = tf.zeros((1, SIZE, SIZE, 3))
    y = tf.constant(labels, tf.int64 if task == "single_label" else tf.float32)
    try:
        for policy in ("float32", "mixed_float16"):
            keras.mixed_precision.set_global_policy(policy)
            run = build_run_model(mode(), 2, task, SIZE, 0, None)
            trainer = Trainer(run, mode(), task, mixed_precision=policy == "mixed_float16")
            head = run.model.get_layer("softmax2_pre_activation")
            head.kernel.assign(tf.zeros_like(head.kernel))
            head.bias.assign([30.0, 0.0])  # a logit margin of 30 for the wrong class
            with tf.GradientTape() as tape:
                total, _ = trainer.losses(x, y, training=False)
            grad = tape.gradient(total, head.bias)
            assert float(total) == pytest.approx(loss, rel=1e-2), policy
            np.testing.assert_allclose(np.asarray(grad), bias_grad, rtol=1e-2, err_msg=policy)
    finally:
        keras.mixed_precision.set_global_policy("float32")


def test_googlenet_schedule():
    schedule = {"factor": 0.96, "every": 8}
    assert [learning_rate(0.001, schedule, e) for e in (0, 7, 8, 16)] == pytest.approx(
        [0.001, 0.001, 0.00096, 0.0009216]
    )
    assert learning_rate(0.01, None, 40) == 0.01
    run = build_run_model(mode(), 9, "single_label", SIZE, 0, None)
    trainer = Trainer(run, mode(lr_head=0.001, lr_transferred=0.001, schedule=schedule), "single_label")
    assert trainer.set_epoch(16) == {"head": pytest.approx(0.0009216)}  # random init: every layer is new
    opt = trainer.groups["head"][0]
    assert float(opt.learning_rate) == pytest.approx(0.0009216)


def test_train_run_applies_each_epochs_rate_to_the_optimizers(tiny, tmp_path, monkeypatch):
    store, init_path = tiny
    seen = []  # each group's optimizer rate while an epoch trains
    original = Trainer.train_epoch

    def spy(self, batches):
        seen.append({g: float(opt.learning_rate) for g, (opt, _, _) in self.groups.items()})
        return original(self, batches)

    monkeypatch.setattr(Trainer, "train_epoch", spy)
    halving = mode(epochs=3, lr_head=0.01, lr_transferred=0.002, schedule={"factor": 0.5, "every": 1})
    train_run(store, tmp_path, halving, 1, SIZE, init_path)
    expected = [{"head": 0.01, "transferred": 0.002}, {"head": 0.005, "transferred": 0.001}]
    expected.append({"head": 0.0025, "transferred": 0.0005})
    assert [{g: pytest.approx(r) for g, r in e.items()} for e in expected] == seen
    history = __import__("pandas").read_csv(tmp_path / "history.csv")
    assert history["lr_head"].tolist() == pytest.approx([0.01, 0.005, 0.0025])


def test_learning_rates_are_logged_per_variable(tiny, tmp_path):
    store, init_path = tiny
    env = {**os.environ, "PATH": f"{os.path.dirname(sys.executable)}:{os.environ['PATH']}"}
    import json

    proc = subprocess.run(
        [
            sys.executable,
            "-m",
            "artfinetune",
            "train",
            "--seed",
            "1",
            "--mode-json",
            json.dumps(mode(epochs=1, frozen=["conv2d0"])),
            "--store",
            str(store),
            "--init",
            str(init_path),
            "--out",
            str(tmp_path),
            "--image-size",
            str(SIZE),
        ],
        capture_output=True,
        text=True,
        env=env,
        cwd=REPO,
    )
    assert proc.returncode == 0, proc.stderr[-2000:]
    log = proc.stderr
    assert "effective learning rate of every variable" in log
    assert "conv2d0_pre_relu/kernel" in log and "frozen (kept from the init)" in log
    lines = log.splitlines()
    assert any("softmax2_pre_activation/kernel" in line and "lr 0.01 (lr_head), new" in line for line in lines)
    assert any(
        "mixed5b_1x1_pre_relu/kernel" in line and "lr 0.001 (lr_transferred), transferred" in line for line in lines
    )


def test_reinitialised_layers_are_logged_as_such(tiny, caplog):
    store, init_path = tiny
    from artfinetune.train.loop import log_learning_rates

    m = mode(reinit=["mixed5b"])
    run = build_run_model(m, 9, "single_label", SIZE, 1, load_model(init_path))
    with caplog.at_level("INFO"):
        log_learning_rates(run, Trainer(run, m, "single_label"))
    origin = {line.split()[0]: line.rsplit(", ", 1)[-1] for line in caplog.messages if "/" in line}
    assert origin["mixed5b_3x3_pre_relu/kernel"] == "re-initialised"
    assert origin["mixed5a_3x3_pre_relu/kernel"] == "transferred"
    assert origin["softmax2_pre_activation/kernel"] == "new"


def test_the_determinism_setting_is_recorded_in_the_evaluation(tiny, tmp_path):
    import json

    store, init_path = tiny
    try:
        train_run(store, tmp_path, mode(epochs=1), 1, SIZE, init_path, deterministic=False)
        from tensorflow.python.framework import config as tf_config

        assert not tf_config.is_op_determinism_enabled()
    finally:
        tf.config.experimental.enable_op_determinism()
    result = json.loads((tmp_path / "eval.json").read_text())
    assert result["deterministic"] is False and result["mixed_precision"] is False
    assert result["device"].startswith(("CPU", "GPU"))


def test_mixed_precision_option_trains(tiny, tmp_path):
    _, init_path = tiny
    # float16 computes slowly on a CPU: 9 training images instead of 18
    store = tiny_store(tmp_path / "data", 3, splits={"train": 1 / 3, "val": 1 / 3, "test": 1 / 3})
    try:
        result = train_run(store, tmp_path / "run", mode(epochs=1), 1, SIZE, init_path, mixed_precision=True)
        model = load_model(tmp_path / "run/model.keras")
        assert model.get_layer("mixed4a_3x3_pre_relu").compute_dtype == "float16"
        assert model.get_layer("mixed4a_3x3_pre_relu").kernel.dtype == "float32"  # weights stay float32
        assert np.isfinite(float(__import__("pandas").read_csv(tmp_path / "run/history.csv")["train_loss"][0]))
        assert 0 <= result["metrics"]["top1"] <= 100
    finally:
        keras.mixed_precision.set_global_policy("float32")


def test_local_response_norm_does_not_overflow_under_mixed_precision():
    """LRN's sum of squares overflows float16 at Lucid's activation range; it runs in float32 under mixed precision."""
    x = np.full((1, 8, 8, 64), 260.0, np.float32)  # conv2d0 maps reach such values from [-117, 138] inputs
    keras.utils.set_random_seed(0)
    expected = np.asarray(build_inception_v1(3, input_size=SIZE).get_layer("localresponsenorm0")(x))
    try:
        keras.mixed_precision.set_global_policy("mixed_float16")
        lrn = build_inception_v1(3, input_size=SIZE).get_layer("localresponsenorm0")
        got = np.asarray(lrn(x.astype(np.float16)), np.float32)
    finally:
        keras.mixed_precision.set_global_policy("float32")
    assert np.isfinite(got).all() and np.abs(expected).max() > 1
    np.testing.assert_allclose(got, expected, rtol=1e-3)


@pytest.mark.parametrize("name", ["resnet50", "vgg16"])
def test_a_keras_application_trains_with_its_own_frozen_and_reinitialised_layers(name, tiny, tmp_path):
    """Frozen and reinit name the architecture's own analysis layers; what each holds comes from its literal table,
    so a range that picked the wrong weight layers (or a frozen batch normalisation that kept updating its moving
    statistics) shows here."""
    from artfinetune.model.architectures import architecture
    from artfinetune.model.files import save_model

    store, _ = tiny
    arch = architecture(name)
    keras.utils.set_random_seed(5)
    init = arch.build(12, "single_label", input_size=SIZE)  # a 12-class "pretrained" model
    rng = np.random.default_rng(5)
    for layer in init.layers:  # away from any initialiser's values (a fresh batch normalisation is all ones and zeros)
        layer.set_weights([w * (1 + 0.1 * rng.random(w.shape)) + 0.01 for w in layer.get_weights()])
    init_path = save_model(init, tmp_path / "init.keras")
    third = len(arch.study_layers) // 3
    frozen, reinit = arch.study_layers[:third], arch.study_layers[-third:]
    end = mode(frozen=[f"{frozen[0]}..{frozen[-1]}"], reinit=[f"{reinit[0]}..{reinit[-1]}"], optimizer="adam", epochs=1)
    train_run(store, tmp_path / "run", end, seed=1, image_size=SIZE, init_model=init_path)
    start, trained = load_model(tmp_path / "run/init.keras"), load_model(tmp_path / "run/model.keras")
    assert trained.name == name and trained.get_layer(f"{arch.head}_pre_activation").units == 9

    def same(a, b, layer):
        return all(
            np.array_equal(x, y)
            for x, y in zip(a.get_layer(layer).get_weights(), b.get_layer(layer).get_weights(), strict=True)
        )

    members = {part: [m for layer in layers for m in arch.members[layer]] for part, layers in
               (("frozen", frozen), ("reinit", reinit), ("middle", arch.study_layers[third:-third]))}  # fmt: skip
    assert members["frozen"] and members["reinit"] and members["middle"]
    for layer in members["frozen"]:
        assert same(init, trained, layer), layer  # weights and moving statistics
    for layer in members["reinit"]:
        assert not same(init, start, layer) and not same(start, trained, layer), layer
    for layer in members["middle"]:
        assert same(init, start, layer) and not same(start, trained, layer), layer


def test_a_random_init_has_the_architecture_it_is_given_and_an_init_its_own(tiny, tmp_path):
    store, _ = tiny
    scratch = mode(lr_head=0.01, lr_transferred=0.01, epochs=1)
    train_run(store, tmp_path / "vgg", scratch, seed=1, image_size=SIZE, architecture="vgg16")
    trained = load_model(tmp_path / "vgg/model.keras")
    assert trained.name == "vgg16" and trained.get_layer("block5_conv3").kernel.shape == (3, 3, 512, 512)
    with pytest.raises(UserError, match=r"vgg/model\.keras is a vgg16, not a resnet50; a run has its init's"):
        train_run(store, tmp_path / "b", scratch, seed=1, image_size=SIZE, init_model=tmp_path / "vgg/model.keras",
                  architecture="resnet50")  # fmt: skip
