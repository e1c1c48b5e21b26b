"""Export a Keras model of a registered architecture to a frozen GraphDef that Lucid loads with plain tensor names.

The graph is the model's architecture rebuilt for any input size, as Lucid's renders need (InceptionV1 without its
auxiliary heads), holding the model's weights. Every tensor of the architecture's registry is reachable by its plain
name (``mixed4d_3x3_pre_relu``, ``conv3_block1_out``, ``block3_conv2``), so objectives read as in the paper
(``mixed4d_3x3_pre_relu:52``), and so is the main head (``<head>_pre_activation`` and ``<head>``). Freezing a Keras
model names nodes after its layers' scopes; the plain names are Identity nodes added on top of them. A ``.json``
beside the graph records its input's name and value range, the tensors, the head's classes and task, and the
architecture.

The input placeholder ``input`` takes Lucid's [-117, 138] range for InceptionV1, like Lucid's InceptionV1.pb, and
RGB in [0, 255] for the Keras applications (ResNet-50, VGG16), whose first layer
(:class:`~artfinetune.model.keras_apps.CaffeInput`) does their preprocessing.
"""

from __future__ import annotations

import json
from pathlib import Path

import keras
import tensorflow as tf
from tensorflow.python.framework.convert_to_constants import convert_variables_to_constants_v2

from artfinetune.io import atomic_path
from artfinetune.model.architectures import INCEPTION_V1, Architecture, architecture_of_model
from artfinetune.model.inception import (
    INPUT_OFFSET,
    LRN_LAYERS,
    POOL_LAYERS,
    build_inception_v1,
    lrn_attributes,
    transfer_weights,
    weight_layers,
)

INPUT_NAME = "input"
LUCID_RANGE = (-INPUT_OFFSET, 255.0 - INPUT_OFFSET)  # InceptionV1's graph input, as Lucid's own InceptionV1.pb
RGB_RANGE = (0.0, 255.0)  # the other architectures' graph input: what their models take


def exported_tensors(model: keras.Model, arch: Architecture = INCEPTION_V1) -> list[str]:
    """Names the exported graph provides: every registry tensor the model has (InceptionV1's also its local response
    normalisations and pools), then the main head."""
    extra = (*LRN_LAYERS, *POOL_LAYERS) if arch.name == INCEPTION_V1.name else ()
    names = [*arch.widths, *extra, f"{arch.head}_pre_activation", arch.head]
    layers = {layer.name for layer in model.layers}
    return [n for n in names if n in layers]


def copy_weights(source: keras.Model, target: keras.Model) -> None:
    """Copy every weight layer of ``target`` from the layer of ``source`` with its name; an error if any is left."""
    copied = set(transfer_weights(source, target))
    missed = [layer.name for layer in weight_layers(target) if layer.name not in copied]
    if missed:  # never export random weights silently
        raise RuntimeError(f"export could not copy the weights of {missed} from the model")


def frozen_graph(model: keras.Model, names: list[str], value_range: tuple[float, float]) -> tf.compat.v1.GraphDef:
    """``model`` (which takes RGB in [0, 255]) frozen behind a placeholder ``input`` taking ``value_range``, with an
    Identity node named after each layer of ``names``, giving that layer's output."""
    probe = keras.Model(model.input, {n: model.get_layer(n).output for n in names})
    offset = -value_range[0]  # the graph's input plus offset is RGB in [0, 255] (no addition op when it is 0)

    @tf.function(input_signature=[tf.TensorSpec([None, None, None, 3], tf.float32, name=INPUT_NAME)])
    def forward(graph_input):
        return probe(graph_input + offset if offset else graph_input)

    frozen = convert_variables_to_constants_v2(forward.get_concrete_function())
    graph_def = frozen.graph.as_graph_def()
    taken = {node.name for node in graph_def.node}
    clash = taken & set(names)
    if clash:
        raise RuntimeError(f"frozen graph already has nodes named {sorted(clash)}; cannot add Lucid's names")
    flat_names = sorted(names)  # tf.function flattens a dict output in sorted key order
    for name, tensor in zip(flat_names, frozen.outputs, strict=True):
        node = graph_def.node.add()
        node.name, node.op = name, "Identity"
        node.input.append(tensor.name[:-2] if tensor.name.endswith(":0") else tensor.name)
        node.attr["T"].type = tf.float32.as_datatype_enum
    return graph_def


def export_graph(model: keras.Model, out_path: str | Path) -> Path:
    """Freeze the trunk and main head of ``model`` (any registered architecture) into ``out_path`` (+ ``.json`` with
    Lucid's settings)."""
    out_path = Path(out_path)
    arch = architecture_of_model(model.name)
    head = model.get_layer(arch.head)
    task = "single_label" if head.activation.__name__ == "softmax" else "multi_label"
    num_classes = model.get_layer(f"{arch.head}_pre_activation").units
    if arch.name == INCEPTION_V1.name:
        # Without auxiliary heads the graph accepts any input size, as Lucid's renders need.
        trunk = build_inception_v1(num_classes, task, input_size=None, aux_heads=False, lrn=lrn_attributes(model))
        value_range = LUCID_RANGE
    else:
        trunk = arch.build(num_classes, task, input_size=None, name=model.name)
        value_range = RGB_RANGE
    copy_weights(model, trunk)
    names = exported_tensors(trunk, arch)
    graph_def = frozen_graph(trunk, names, value_range)
    with atomic_path(out_path) as tmp:
        tmp.write_bytes(graph_def.SerializeToString())
    meta = {
        "input_name": INPUT_NAME,
        "image_value_range": list(value_range),
        "tensors": names,
        "num_classes": num_classes,
        "task": task,
        "architecture": arch.name,
    }
    with atomic_path(out_path.with_suffix(".json")) as tmp:
        tmp.write_text(json.dumps(meta, indent=1))
    return out_path


def export_model_file(model_path: str | Path, out_path: str | Path) -> Path:
    """The export_graph rule: a saved model frozen into ``out_path`` (+ its JSON), as :func:`export_graph` does."""
    from artfinetune.model.files import load_model

    return export_graph(load_model(model_path), out_path)
