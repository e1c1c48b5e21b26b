"""Import Lucid's InceptionV1 GraphDef (``InceptionV1.pb``) into the Keras model.

The frozen graph holds every variable as a constant ``<name>_w`` / ``<name>_b``
beside the nodes that use it. The importer checks that the graph has every node
the study addresses, with the expected op type, and that each mixed block
concatenates its branches in the Keras model's order, along the channel axis and
(where the graph records it) to the width its branches sum to: a block's channel
numbers depend on that order. It reads the LRN attributes from the graph's own
LRN nodes and copies each constant into the Keras layer of the same name. Any
missing node or wrong shape stops with an error naming the node.
"""

from __future__ import annotations

import logging
from pathlib import Path

import numpy as np
import tensorflow as tf

from artfinetune.errors import UserError
from artfinetune.model.files import save_model
from artfinetune.model.inception import LRN_LAYERS, POOL_LAYERS, build_inception_v1, weight_layers
from artfinetune.model.layers import MIXED

log = logging.getLogger(__name__)


class GraphImportError(UserError):
    """The GraphDef is not the InceptionV1 graph the study expects."""


def load_graphdef(path: str | Path) -> tf.compat.v1.GraphDef:
    graph_def = tf.compat.v1.GraphDef()
    try:
        graph_def.ParseFromString(Path(path).read_bytes())
    except Exception as err:  # protobuf's DecodeError
        raise GraphImportError(
            f"{path} is not a TensorFlow GraphDef ({err}); expected Lucid's InceptionV1.pb"
        ) from None
    return graph_def


def _lucid_base(layer_name: str) -> str:
    """Keras layer -> the prefix of its constants (``mixed3a_1x1_pre_relu`` -> ``mixed3a_1x1``)."""
    for suffix in ("_pre_relu", "_pre_activation"):
        if layer_name.endswith(suffix):
            return layer_name[: -len(suffix)]
    raise GraphImportError(f"Keras layer {layer_name} has no Lucid counterpart")


def expected_ops(model) -> dict[str, tuple[str, ...]]:
    """Node name -> accepted op types, for every tensor of the trunk the study addresses."""
    ops: dict[str, tuple[str, ...]] = {name: ("LRN",) for name in LRN_LAYERS}
    ops.update({name: ("MaxPool", "AvgPool", "Mean") for name in POOL_LAYERS})
    ops.update({block: ("Concat", "ConcatV2") for block in MIXED})
    for layer in weight_layers(model):
        base = _lucid_base(layer.name)
        if layer.name.endswith("_pre_relu") and not base.startswith("nn"):
            ops[f"{base}_pre_relu/conv"] = ("Conv2D",)
            ops[f"{base}_pre_relu"] = ("BiasAdd", "Add", "AddV2")
            ops[base] = ("Relu",)
    return ops


def _check_nodes(nodes: dict, model, source: str) -> None:
    """The structural check of a graph against the model: its nodes and op types, then its concatenations."""
    for name, op_types in expected_ops(model).items():
        if name not in nodes:
            raise GraphImportError(
                f"node {name!r} ({op_types[0]}) is missing from {source}; is this Lucid's InceptionV1 graph?"
            )
        if nodes[name].op not in op_types:
            raise GraphImportError(f"node {name!r} of {source} is a {nodes[name].op}, expected {' or '.join(op_types)}")
    for block in MIXED:
        _check_concatenation(nodes, model, block, source)


def _model_concat_order(model, block: str) -> list[str]:
    """The layers whose outputs the Keras model concatenates into ``block``, in the order it concatenates them
    (read from the built model, so it is the order :func:`~artfinetune.model.inception.mixed` really used)."""
    return [tensor._keras_history[0].name for tensor in model.get_layer(block).input]


def _producer(nodes: dict, name: str) -> str:
    """The node behind a GraphDef input (``x:0`` -> ``x``), looking through Identity nodes."""
    name = name.split(":", 1)[0]
    seen = set()
    while name in nodes and nodes[name].op == "Identity" and name not in seen:
        seen.add(name)
        name = nodes[name].input[0].split(":", 1)[0]
    return name


def _branch_list(block: str, names) -> str:
    return ", ".join(name.removeprefix(f"{block}_") for name in names) or "(no inputs)"


def _check_concatenation(nodes: dict, model, block: str, source: str) -> None:
    """``block``'s Concat / ConcatV2 must take the model's branches in the model's order along the channel axis."""
    node = nodes[block]
    inputs = [name for name in node.input if not name.startswith("^")]  # "^x" is a control dependency
    values, axis_input = (inputs[1:], inputs[0]) if node.op == "Concat" else (inputs[:-1], inputs[-1])
    graph_order = [_producer(nodes, name) for name in values]
    model_order = _model_concat_order(model, block)
    if graph_order != model_order:
        raise GraphImportError(
            f"{block} of {source} concatenates its branches in the order {_branch_list(block, graph_order)}, "
            f"but the Keras model concatenates them in the order {_branch_list(block, model_order)}, "
            f"so channel numbers of {block} would point to the wrong branch channels"
        )
    layer = model.get_layer(block)
    rank = len(layer.output.shape)
    axis = int(_constant(nodes, _producer(nodes, axis_input), source))
    if axis % rank != layer.axis % rank:
        raise GraphImportError(
            f"{block} of {source} concatenates along axis {axis}, not the channel axis {layer.axis % rank} "
            f"the Keras model concatenates along, so its channel numbers would not map onto its branches"
        )
    shapes = node.attr["_output_shapes"].list.shape if "_output_shapes" in node.attr else []
    width = shapes[0].dim[-1].size if shapes and not shapes[0].unknown_rank and shapes[0].dim else -1
    if width >= 0:  # the graph records the concatenation's width
        branch_widths = [_constant(nodes, f"{name}_b", source).shape[-1] for name in graph_order]
        if width != sum(branch_widths):
            raise GraphImportError(
                f"{block} of {source} is {width} channels wide, but its branches {_branch_list(block, graph_order)} "
                f"have {', '.join(map(str, branch_widths))} channels, which sum to {sum(branch_widths)}, "
                f"so its channel numbers would not map onto its branches"
            )


def _lrn_attributes(nodes: dict, source: str) -> dict:
    out = {}
    for name in LRN_LAYERS:
        if name not in nodes:
            raise GraphImportError(f"node {name!r} (LRN) is missing from {source}; is this Lucid's InceptionV1 graph?")
        attr = nodes[name].attr
        out[name] = {
            "depth_radius": attr["depth_radius"].i,
            "bias": attr["bias"].f,
            "alpha": attr["alpha"].f,
            "beta": attr["beta"].f,
        }
    return out


def _constant(nodes: dict, name: str, source: str) -> np.ndarray:
    node = nodes.get(name)
    if node is None:
        raise GraphImportError(f"constant node {name!r} is missing from {source}; is this Lucid's InceptionV1 graph?")
    if node.op != "Const":
        raise GraphImportError(f"node {name!r} of {source} is a {node.op}, expected a Const (a frozen graph)")
    return tf.make_ndarray(node.attr["value"].tensor)


def import_graphdef(graph_def, input_size: int = 224, source: str = "the graph"):
    """Build the Keras InceptionV1 (with both auxiliary heads) holding the graph's weights."""
    nodes = {node.name: node for node in graph_def.node}
    num_classes = _constant(nodes, "softmax2_w", source).shape[-1]
    model = build_inception_v1(
        num_classes, "single_label", input_size=input_size, aux_heads=True, lrn=_lrn_attributes(nodes, source)
    )
    _check_nodes(nodes, model, source)
    for layer in weight_layers(model):
        base = _lucid_base(layer.name)
        values = [_constant(nodes, f"{base}_w", source), _constant(nodes, f"{base}_b", source)]
        for node_name, value, weight in zip((f"{base}_w", f"{base}_b"), values, layer.weights, strict=True):
            if tuple(value.shape) != tuple(weight.shape):
                raise GraphImportError(
                    f"node {node_name!r} of {source} has shape {tuple(value.shape)}, but Keras layer {layer.name} "
                    f"expects {tuple(weight.shape)}; the graph is not Lucid's InceptionV1"
                )
        layer.set_weights(values)
    log.info("imported %d layers and %d-class heads from %s", len(weight_layers(model)), num_classes, source)
    return model


def import_lucid(pb_path: str | Path, out_path: str | Path, input_size: int = 224) -> Path:
    """Import ``InceptionV1.pb`` and save the Keras model (``.keras``) to ``out_path``."""
    model = import_graphdef(load_graphdef(pb_path), input_size=input_size, source=str(pb_path))
    return save_model(model, out_path)


def check_graph_file(path: str | Path) -> None:
    """The importer's structural check of a GraphDef file, without saving anything: every node the study addresses
    with its op type, each block's concatenation order, axis and width, every weight's shape; GraphImportError
    otherwise (a downloaded file that is not Lucid's InceptionV1 is refused, whichever mirror it came from)."""
    import_graphdef(load_graphdef(path), source=str(path))
