"""The layer registry: Lucid's InceptionV1 layer and branch names with their widths.

One source of truth for every stage that names a layer or a channel: the model
builder, the importer, activation extraction, metrics and rendering.
"""

from __future__ import annotations

from collections.abc import Iterable

from artfinetune.errors import UserError

# Stem convolutions: name -> (kernel, stride, output channels).
STEM = {
    "conv2d0": (7, 2, 64),
    "conv2d1": (1, 1, 64),
    "conv2d2": (3, 1, 192),
}

# Mixed blocks, in network order: (1x1, 3x3_bottleneck, 3x3, 5x5_bottleneck, 5x5, pool_reduce).
# Widths are those of Lucid's graph (mixed4a's 3x3 branch has 204 channels, not 208).
MIXED = {
    "mixed3a": (64, 96, 128, 16, 32, 32),
    "mixed3b": (128, 128, 192, 32, 96, 64),
    "mixed4a": (192, 96, 204, 16, 48, 64),
    "mixed4b": (160, 112, 224, 24, 64, 64),
    "mixed4c": (128, 128, 256, 24, 64, 64),
    "mixed4d": (112, 144, 288, 32, 64, 64),
    "mixed4e": (256, 160, 320, 32, 128, 128),
    "mixed5a": (256, 160, 320, 48, 128, 128),
    "mixed5b": (384, 192, 384, 48, 128, 128),
}

BRANCHES = ("1x1", "3x3_bottleneck", "3x3", "5x5_bottleneck", "5x5", "pool_reduce")
# Branches whose outputs are concatenated into the block output, in Lucid's order.
CONCAT_BRANCHES = ("1x1", "3x3", "5x5", "pool_reduce")

# The 12 layers of the paper's CKA, l2 and top-k analyses, in network order.
STUDY_LAYERS = tuple(STEM) + tuple(MIXED)


def _build_widths() -> dict[str, int]:
    widths: dict[str, int] = {}
    for name, (_, _, out) in STEM.items():
        widths[name] = out
        widths[f"{name}_pre_relu"] = out
    for block, sizes in MIXED.items():
        branch = dict(zip(BRANCHES, sizes, strict=True))
        for b, c in branch.items():
            widths[f"{block}_{b}"] = c
            widths[f"{block}_{b}_pre_relu"] = c
        widths[block] = sum(branch[b] for b in CONCAT_BRANCHES)
    return widths


# Every addressable tensor (post-ReLU layers, branches and their pre-ReLU twins) -> channels.
WIDTHS = _build_widths()

# Convolutions of the trunk (what "mean l2" averages over): 3 stem + 6 per mixed block.
TRUNK_CONVS = tuple(STEM) + tuple(f"{block}_{b}" for block in MIXED for b in BRANCHES)

# Each study layer's Keras weight layers: a stem convolution, or a mixed block's six convolutions.
MEMBERS = {layer: (f"{layer}_pre_relu",) for layer in STEM} | {
    block: tuple(f"{block}_{b}_pre_relu" for b in BRANCHES) for block in MIXED
}


def layer_index(layer: str, study_layers: tuple[str, ...] = STUDY_LAYERS) -> int:
    """Position of a study layer (conv2d0 = 0 ... mixed5b = 11; ``study_layers``: another architecture's)."""
    check_layer(layer, study_layers)
    return study_layers.index(layer)


def network_order(layers: Iterable[str]) -> list[str]:
    """Analysis layers in network order (conv2d0 ... mixed5b; another architecture's in its own order), once each,
    then any other tensor (e.g. a branch such as mixed4d_3x3) as first met: the order of every per-layer axis and
    trend, whatever order a config lists them in."""
    from artfinetune.model.architectures import ARCHITECTURES

    seen = list(dict.fromkeys(layers))
    ordered = [layer for arch in ARCHITECTURES.values() for layer in arch.study_layers if layer in seen]
    return ordered + [layer for layer in seen if layer not in ordered]


def layer_position(tensor: str) -> int:
    """The position, among its architecture's analysis layers, of the layer a tensor belongs to (InceptionV1's
    ``mixed4d_3x3`` -> mixed4d's 8; ResNet-50's ``conv2_block1_1_relu`` -> conv2_block1_out's 1); a tensor outside
    every analysis layer (ResNet-50's ``pool1_pool``) comes after them all. Galleries sort channels by it."""
    from artfinetune.model.architectures import tensor_architecture

    study = tensor_architecture(tensor).study_layers
    if tensor in study:
        return study.index(tensor)
    for i, layer in enumerate(study):  # a branch or part: its layer's name, or that name without its last part
        if tensor.startswith(f"{layer}_") or ("_" in layer and tensor.startswith(layer.rsplit("_", 1)[0] + "_")):
            return i
    return len(study)


def expand_layers(spec: list[str] | None, study_layers: tuple[str, ...] = STUDY_LAYERS) -> list[str]:
    """Expand a list of study layers where an item may be a range such as ``conv2d0..mixed3b`` (``study_layers``:
    another architecture's, e.g. ``conv1_relu..conv3_block4_out`` for ResNet-50)."""
    out: list[str] = []
    for item in spec or []:
        if ".." in item:
            first, last = item.split("..", 1)
            i, j = layer_index(first, study_layers), layer_index(last, study_layers)
            if j < i:
                raise UserError(f"layer range {item!r} runs backwards; write it as {last}..{first}")
            out.extend(study_layers[i : j + 1])
        else:
            check_layer(item, study_layers)
            out.append(item)
    return out


def mode_frozen_layers(mode: dict, study_layers: tuple[str, ...] = STUDY_LAYERS) -> list[str]:
    """The study layers a run of ``mode`` keeps from its init and never trains, in network order: the mode's
    ``frozen`` ranges, or every layer for an off-the-shelf mode (whose trunk is frozen whole)."""
    if mode.get("kind", "fine_tune") == "off_the_shelf":
        return list(study_layers)
    frozen = set(expand_layers(mode.get("frozen", []), study_layers))
    return [layer for layer in study_layers if layer in frozen]


def tensor_widths() -> dict[str, int]:
    """Every addressable tensor of every registered architecture -> its channels (their names are disjoint, so a
    layer or channel name says which architecture it belongs to)."""
    from artfinetune.model.architectures import ARCHITECTURES

    return {name: width for arch in ARCHITECTURES.values() for name, width in arch.widths.items()}


def check_layer(name: str, valid=None) -> str:
    """Return ``name`` if it is a known layer (of ``valid``, default any registered architecture's tensors), else
    raise a UserError listing the choices."""
    if valid is not None:
        if name not in valid:
            raise UserError(f"unknown layer {name!r}; valid layers are: {', '.join(valid)}")
        return name
    if name not in tensor_widths():
        from artfinetune.model.architectures import ARCHITECTURES

        others = "; ".join(
            f"{arch.name}'s analysis layers: {', '.join(arch.study_layers)}"
            for arch in ARCHITECTURES.values()
            if arch.widths is not WIDTHS
        )
        raise UserError(
            f"unknown layer {name!r}; valid layers are: {', '.join(WIDTHS)} (InceptionV1's); {others} (and the "
            "tensors of their registries, artfinetune.model.<architecture>.WIDTHS)"
        )
    return name


def post_relu(name: str) -> str:
    """The post-ReLU tensor a CKA or top-k analysis reads for a layer or branch name (``mixed4d_3x3_pre_relu`` ->
    ``mixed4d_3x3``; ``mixed4a`` and ``conv2d0`` stay as they are, as does every tensor of the other architectures,
    whose analysis layers are all after a ReLU). An unknown name is an error listing the known ones."""
    check_layer(name)
    return name.removesuffix("_pre_relu") if name in WIDTHS else name


def parse_channel(channel: str) -> tuple[str, int]:
    """Parse ``layer:index`` (e.g. ``mixed4d_3x3_pre_relu:52``, ``conv4_block6_out:12``) and check it against the
    registry of the layer's architecture."""
    if ":" not in channel:
        raise UserError(f"channel {channel!r} must be written layer:index, e.g. mixed4d_3x3_pre_relu:52")
    layer, _, text = channel.rpartition(":")
    check_layer(layer)
    try:
        index = int(text)
    except ValueError:
        raise UserError(f"channel index in {channel!r} must be an integer") from None
    width = tensor_widths()[layer]
    if not 0 <= index < width:
        raise UserError(f"channel {index} is out of range for {layer}, which has channels 0..{width - 1}")
    return layer, index
