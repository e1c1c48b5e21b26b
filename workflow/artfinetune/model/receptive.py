"""Receptive fields of each architecture's tensors: which input pixels a unit of a channel's map sees.

A unit at position (y, x) of a tensor sees the input square of side ``size`` whose top-left corner is at
``offset + stride * (y, x)``; the square can reach past the image's border, where the network saw zero padding.
Each layer with kernel k, stride s and TensorFlow's ``SAME`` padding on an input of side n (output side
ceil(n / s), ``pad = max((ceil(n / s) - 1) * s + k - n, 0)`` pixels of which ``pad // 2`` before) maps

    size' = size + (k - 1) * stride,   offset' = offset - (pad // 2) * stride,   stride' = stride * s

starting from the input pixel itself (size 1, stride 1, offset 0). ReLU, local response normalisation and the
concatenation are pointwise in space. A mixed block's branches see different squares (the 1x1 branch its input's,
the 3x3 and 5x5 branches their kernel's more, the pool branch its 3x3 max-pool's more); a channel of the block's
output belongs to one branch (:data:`artfinetune.model.layers.CONCAT_BRANCHES` order) and has that branch's field.
Because SAME padding depends on the input side, the table depends on the image size (the paper's 224 px).

VGG16 and ResNet-50 (Keras applications) are walked the same way from their literal tables: VALID layers (VGG16's
2 x 2 pools, ResNet-50's strided 1 x 1 convolutions and its stem after explicit zero padding) leave the offset
where it is and give ``floor((n - k) / s) + 1`` outputs; a zero padding of p moves the offset back by p units; a
residual block's output sees the union of its two paths' squares (the main path's, which holds the shortcut's).
"""

from __future__ import annotations

from dataclasses import dataclass

from artfinetune.model import layers

# The spatial layers between the stem convolutions and the blocks, as the model builds them: (kernel, stride).
POOL = (3, 2)
POOLS_AFTER = {"conv2d0": POOL, "conv2d2": POOL, "mixed3b": POOL, "mixed4e": POOL}


@dataclass(frozen=True)
class Field:
    """A unit's input square: side ``size`` px, corners ``stride`` px apart, the first unit's at ``offset``."""

    size: int
    stride: int
    offset: int
    side: int  # the tensor's own side (units per row)

    def box(self, y: int, x: int, image_size: int | None = None) -> tuple[int, int, int, int]:
        """The input square of unit (y, x) as (top, left, bottom, right), bottom and right exclusive; clipped to the
        image when ``image_size`` is given."""
        if not (0 <= y < self.side and 0 <= x < self.side):
            raise ValueError(f"unit ({y}, {x}) is outside this {self.side}x{self.side} map")
        top, left = self.offset + y * self.stride, self.offset + x * self.stride
        box = (top, left, top + self.size, left + self.size)
        if image_size is None:
            return box
        return tuple(min(max(v, 0), image_size) for v in box)


def _apply(field: Field, kernel: int, stride: int) -> Field:
    out = -(-field.side // stride)  # ceil
    pad = max((out - 1) * stride + kernel - field.side, 0)
    return Field(
        size=field.size + (kernel - 1) * field.stride,
        stride=field.stride * stride,
        offset=field.offset - (pad // 2) * field.stride,
        side=out,
    )


def _apply_valid(field: Field, kernel: int, stride: int) -> Field:
    return Field(
        size=field.size + (kernel - 1) * field.stride,
        stride=field.stride * stride,
        offset=field.offset,
        side=(field.side - kernel) // stride + 1,
    )


def _pad(field: Field, pad: int) -> Field:
    return Field(
        size=field.size, stride=field.stride, offset=field.offset - pad * field.stride, side=field.side + 2 * pad
    )


def _union(a: Field, b: Field) -> Field:
    """The square holding both squares of two maps of the same grid (a residual addition)."""
    if (a.stride, a.side) != (b.stride, b.side):
        raise ValueError(f"cannot add maps of different grids: {a} and {b}")
    offset = min(a.offset, b.offset)
    return Field(max(a.offset + a.size, b.offset + b.size) - offset, a.stride, offset, a.side)


def _vgg16_fields(image_size: int) -> dict[str, Field]:
    from artfinetune.model import vgg16

    fields: dict[str, Field] = {}
    field = Field(size=1, stride=1, offset=0, side=image_size)
    for block, (convs, _) in vgg16.BLOCKS.items():
        for i in range(1, convs + 1):
            field = fields[f"{block}_conv{i}"] = _apply(field, 3, 1)
        field = fields[f"{block}_pool"] = _apply_valid(field, 2, 2)
    return fields


def _resnet50_fields(image_size: int) -> dict[str, Field]:
    from artfinetune.model import resnet50

    fields: dict[str, Field] = {}
    field = _apply_valid(_pad(Field(size=1, stride=1, offset=0, side=image_size), 3), 7, 2)
    fields |= {f"conv1_{s}": field for s in ("conv", "bn", "relu")}
    field = fields["pool1_pool"] = _apply_valid(_pad(field, 1), 3, 2)
    for stage, (blocks, _, _, first_stride) in resnet50.STAGES.items():
        for b in range(1, blocks + 1):
            block, stride = f"{stage}_block{b}", first_stride if b == 1 else 1
            one = _apply_valid(field, 1, stride)
            two = _apply(one, 3, 1)
            three = _apply_valid(two, 1, 1)
            shortcut = _apply_valid(field, 1, stride) if b == 1 else field
            if b == 1:
                fields |= {f"{block}_0_conv": shortcut, f"{block}_0_bn": shortcut}
            fields |= {f"{block}_1_{s}": one for s in ("conv", "bn", "relu")}
            fields |= {f"{block}_2_{s}": two for s in ("conv", "bn", "relu")}
            fields |= {f"{block}_3_conv": three, f"{block}_3_bn": three}
            field = _union(three, shortcut)
            fields |= {f"{block}_add": field, f"{block}_out": field}
    return fields


def receptive_fields(image_size: int = 224, architecture: str = "inception_v1") -> dict[str, Field]:
    """Every addressable tensor's field (post-ReLU and pre-ReLU names alike; an InceptionV1 block's own name: its
    widest branch, the 5x5), for inputs of ``image_size`` px, in the given architecture."""
    if architecture == "vgg16":
        return _vgg16_fields(image_size)
    if architecture == "resnet50":
        return _resnet50_fields(image_size)
    if architecture != "inception_v1":
        raise ValueError(f"no receptive fields for architecture {architecture!r}")
    fields: dict[str, Field] = {}
    field = Field(size=1, stride=1, offset=0, side=image_size)
    for name, (kernel, stride, _) in layers.STEM.items():
        field = _apply(field, kernel, stride)
        fields[name] = fields[f"{name}_pre_relu"] = field
        if name in POOLS_AFTER:
            field = _apply(field, *POOLS_AFTER[name])
    for block in layers.MIXED:
        branch = {
            "1x1": field,
            "3x3_bottleneck": field,
            "3x3": _apply(field, 3, 1),
            "5x5_bottleneck": field,
            "5x5": _apply(field, 5, 1),
            "pool_reduce": _apply(field, 3, 1),
        }
        for b, f in branch.items():
            fields[f"{block}_{b}"] = fields[f"{block}_{b}_pre_relu"] = f
        fields[block] = max((branch[b] for b in layers.CONCAT_BRANCHES), key=lambda f: f.size)
        field = fields[block]
        if block in POOLS_AFTER:
            field = _apply(field, *POOLS_AFTER[block])
    return fields


def channel_field(tensor: str, channel: int, image_size: int = 224) -> Field:
    """The field of one channel of ``tensor`` (of any registered architecture: its name says which): an InceptionV1
    block's channel has its branch's field."""
    from artfinetune.model.architectures import tensor_architecture

    fields = receptive_fields(image_size, tensor_architecture(tensor).name)
    if tensor not in fields:
        raise ValueError(f"no receptive field for tensor {tensor!r}")
    if tensor in layers.MIXED:
        start = 0
        widths = dict(zip(layers.BRANCHES, layers.MIXED[tensor], strict=True))
        for b in layers.CONCAT_BRANCHES:
            if channel < start + widths[b]:
                return fields[f"{tensor}_{b}"]
            start += widths[b]
        raise ValueError(f"channel {channel} is out of range for {tensor}, which has channels 0..{start - 1}")
    return fields[tensor]


def field_table(image_size: int = 224) -> list[dict]:
    """The study layers' and their branches' fields, in network order, for the README and the report."""
    fields = receptive_fields(image_size)
    names = []
    for layer in layers.STUDY_LAYERS:
        names.append(layer)
        if layer in layers.MIXED:
            names += [f"{layer}_{b}" for b in layers.BRANCHES]
    return [{"tensor": n, **{k: getattr(fields[n], k) for k in ("size", "stride", "offset", "side")}} for n in names]


def markdown_table(image_size: int = 224, architecture: str = "inception_v1") -> str:
    """The study layers' fields as the README shows them: an InceptionV1 block's field is its 5x5 branch's, the
    widest; its other branches' are in the last column."""
    from artfinetune.model.architectures import architecture as get

    fields = receptive_fields(image_size, architecture)
    inception = architecture == "inception_v1"
    header = "| layer | map side (units) | stride (px) | field (px) | offset (px) |"
    lines = [
        header + (" 1x1 / 3x3 / 5x5 / pool_reduce (px) |" if inception else ""),
        "|---|---|---|---|---|" + ("---|" if inception else ""),
    ]
    for layer in get(architecture).study_layers:
        f = fields[layer]
        row = f"| {layer} | {f.side} | {f.stride} | {f.size} | {f.offset} |"
        if inception:
            branches = ""
            if layer in layers.MIXED:
                branches = " / ".join(str(fields[f"{layer}_{b}"].size) for b in layers.CONCAT_BRANCHES)
            row += f" {branches} |"
        lines.append(row)
    return "\n".join(lines) + "\n"
