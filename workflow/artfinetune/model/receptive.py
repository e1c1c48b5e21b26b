"""Receptive fields of InceptionV1's tensors: which input pixels a unit of a channel's map sees.

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


def receptive_fields(image_size: int = 224) -> dict[str, Field]:
    """Every addressable tensor's field (post-ReLU and pre-ReLU names alike; a block's own name: its widest
    branch, the 5x5), for inputs of ``image_size`` px."""
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
    """The field of one channel of ``tensor``: a block's channel has its branch's field."""
    fields = receptive_fields(image_size)
    if tensor not in fields:
        raise ValueError(f"unknown tensor {tensor!r}; a layer or branch name such as mixed4d or mixed4d_3x3")
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


def markdown_table(image_size: int = 224) -> str:
    """The study layers' fields as the README shows them: a block's field is its 5x5 branch's, the widest; its
    other branches' are in the last column."""
    fields = receptive_fields(image_size)
    lines = [
        "| layer | map side (units) | stride (px) | field (px) | offset (px) | 1x1 / 3x3 / 5x5 / pool_reduce (px) |",
        "|---|---|---|---|---|---|",
    ]
    for layer in layers.STUDY_LAYERS:
        f = fields[layer]
        branches = ""
        if layer in layers.MIXED:
            branches = " / ".join(str(fields[f"{layer}_{b}"].size) for b in layers.CONCAT_BRANCHES)
        lines.append(f"| {layer} | {f.side} | {f.stride} | {f.size} | {f.offset} | {branches} |")
    return "\n".join(lines) + "\n"
