"""The architecture registry against the model it builds: every listed layer and convolution exists, with the
width the registry gives, in network order; each analysis layer's weight layers are exactly the model's."""

import keras
import numpy as np
import pytest

from artfinetune.errors import UserError
from artfinetune.model.architectures import ARCHITECTURES, architecture

# Independent counts: InceptionV1's 57 trunk convolutions (the paper's table 2); ResNet-50's 53 (He et al. 2016,
# table 1: the 7x7 stem, 16 blocks of three, 4 projection shortcuts) and 16 blocks; VGG16's 13 convolutions and
# 5 pools (Simonyan and Zisserman 2015, configuration D).
COUNTS = {
    "inception_v1": {"convs": 57, "layers": 12, "last": ("mixed5b", 1024)},
    "resnet50": {"convs": 53, "layers": 17, "last": ("conv5_block3_out", 2048)},
    "vgg16": {"convs": 13, "layers": 18, "last": ("block5_pool", 512)},
}
SIZE = 64


@pytest.fixture(scope="module", params=sorted(ARCHITECTURES))
def built(request):
    arch = architecture(request.param)
    keras.utils.set_random_seed(0)
    return arch, arch.build(7, "single_label", input_size=SIZE)


def test_the_registry_matches_the_built_model(built):
    arch, model = built
    names = [layer.name for layer in model.layers]
    positions = [names.index(layer) for layer in arch.study_layers]
    assert positions == sorted(positions), "study layers are not in network order"
    for layer in arch.widths:  # every addressable tensor exists, with its width
        assert model.get_layer(layer).output.shape[-1] == arch.widths[layer], layer
    for conv in arch.trunk_convs:
        layer = model.get_layer(arch.conv_layer.format(conv))
        assert isinstance(layer, keras.layers.Conv2D), conv
        assert layer.kernel.shape[-1] == arch.widths[conv], conv
    expected = COUNTS[arch.name]
    assert len(arch.trunk_convs) == expected["convs"]
    assert len(arch.study_layers) == expected["layers"]
    assert (arch.study_layers[-1], arch.widths[arch.study_layers[-1]]) == expected["last"]
    # every Conv2D of the model except the heads' is a trunk convolution
    convs = {layer.name for layer in model.layers if isinstance(layer, keras.layers.Conv2D)}
    assert convs == {arch.conv_layer.format(c) for c in arch.trunk_convs}
    assert model.get_layer(f"{arch.head}_pre_activation").units == 7
    assert model.output.shape[-1] == 7


def test_each_analysis_layer_is_made_of_the_weight_layers_between_it_and_the_previous_one(built):
    """The members of an analysis layer are the weight layers that lie on the path from the previous analysis
    layer to it: changing them changes that layer's output, and leaves every shallower analysis layer alone."""
    arch, model = built
    members = [m for layer in arch.study_layers for m in arch.members[layer]]
    assert len(members) == len(set(members)), "a weight layer belongs to two analysis layers"
    weighted = {layer.name for layer in model.layers if layer.weights and not layer.name.startswith(arch.head)}
    assert set(members) == weighted  # every trunk weight layer belongs to exactly one analysis layer
    probe = keras.Model(model.input, [model.get_layer(layer).output for layer in arch.study_layers])
    images = np.random.default_rng(0).uniform(0, 255, (2, SIZE, SIZE, 3)).astype("float32")
    before = probe.predict(images, verbose=0)
    middle = next(
        i for i in range(len(arch.study_layers) // 2, len(arch.study_layers)) if arch.members[arch.study_layers[i]]
    )
    for name in arch.members[arch.study_layers[middle]]:
        layer = model.get_layer(name)
        layer.set_weights([w * 1.5 + 0.1 for w in layer.get_weights()])
    after = probe.predict(images, verbose=0)
    for i, layer in enumerate(arch.study_layers):
        changed = not np.allclose(before[i], after[i])
        assert changed == (i >= middle), layer


def test_an_unknown_architecture_names_the_known_ones():
    with pytest.raises(UserError, match="architecture 'resnet9' is not one of inception_v1, resnet50, vgg16"):
        architecture("resnet9")


def test_l2_reads_each_architectures_own_convolutions(tmp_path):
    """l2 between two seeded ResNet-50s: one row per convolution of the registry, the mean by hand from the models'
    kernels; a ResNet-50 against an InceptionV1 is refused, naming both."""
    import pandas as pd

    from artfinetune.metrics.pairs import l2_table
    from artfinetune.model.files import save_model

    arch = architecture("resnet50")
    paths = []
    for seed in (1, 2):
        keras.utils.set_random_seed(seed)
        paths.append(save_model(arch.build(3, input_size=32), tmp_path / f"r{seed}.keras"))
    table = l2_table(paths[0], paths[1], tmp_path / "l2.csv", "a", "b")
    l2 = table[table.metric == "l2"]
    assert list(l2.layer) == list(arch.trunk_convs)
    a, b = (keras.saving.load_model(p) for p in paths)
    by_hand = [
        np.linalg.norm(np.asarray(b.get_layer(c).kernel, np.float64) - np.asarray(a.get_layer(c).kernel))
        for c in arch.trunk_convs
    ]
    mean = table[table.metric == "mean_l2"].value.item()
    assert mean == pytest.approx(np.mean(by_hand), rel=1e-12)
    assert pd.read_csv(tmp_path / "l2.csv").shape[0] == 2 * 53 + 2
    keras.utils.set_random_seed(0)
    inception = save_model(architecture("inception_v1").build(3, input_size=64), tmp_path / "i.keras")
    with pytest.raises(UserError, match="a is a resnet50 and b a inception_v1: l2 compares models of one architecture"):
        l2_table(paths[0], inception, tmp_path / "x.csv", "a", "b")


def test_a_models_architecture_follows_its_init_chain():
    from artfinetune.study.names import model_architecture

    config = {
        "init": {"imagenet": {"kind": "lucid"}, "r50": {"kind": "keras", "architecture": "resnet50"},
                 "demo": {"kind": "pretrain", "architecture": "vgg16"}},
        "runs": {"a": {"init": "r50"}, "b": {"init": "a"}, "c": {"init": "random", "architecture": "vgg16"},
                 "d": {"init": "random"}, "e": {"init": "imagenet"}, "f": {"init": "demo"}},
        "seeds": [1],
    }  # fmt: skip
    for run in config["runs"].values():
        run["seeds"] = [1]
    expected = {"imagenet": "inception_v1", "r50": "resnet50", "demo": "vgg16", "a/1": "resnet50"}
    expected |= {"b/1/init": "resnet50", "c/1": "vgg16", "d/1": "inception_v1", "e/1": "inception_v1", "f/1": "vgg16"}
    assert {m: model_architecture(config, m) for m in expected} == expected


def test_a_tensor_sorts_with_the_analysis_layer_it_belongs_to():
    from artfinetune.model.layers import layer_position

    assert [layer_position(t) for t in ("conv2d0_pre_relu", "mixed3a_5x5", "mixed4d", "mixed5b_pool_reduce")] == [
        0, 3, 8, 11]  # fmt: skip
    # ResNet-50: the stem's parts with conv1_relu (0), a block's convolutions and normalisations with its output
    # (conv3_block1 is the 5th analysis layer: stem, three conv2 blocks, then it), the stem's pool after them all
    assert [layer_position(t) for t in ("conv1_conv", "conv2_block3_out", "conv3_block1_0_bn", "conv3_block1_2_relu",
                                        "pool1_pool")] == [0, 3, 4, 4, 17]  # fmt: skip
    assert [layer_position(t) for t in ("block1_conv1", "block3_pool", "block5_pool")] == [0, 9, 17]
