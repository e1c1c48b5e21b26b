"""Export a Keras InceptionV1 to a frozen GraphDef that Lucid loads with its own tensor names.

The graph's input placeholder ``input`` takes Lucid's [-117, 138] range, like
Lucid's InceptionV1.pb, and every layer and branch of the registry is reachable
by its plain name (``mixed4d_3x3_pre_relu``), so objectives read as in the paper
(``mixed4d_3x3_pre_relu:52``). Freezing a Keras model names nodes after its
layers' scopes; the plain names are Identity nodes added on top of them.
"""

from __future__ import annotations

import json
from pathlib import Path

import keras
import tensorflow as tf
from tensorflow.python.framework.convert_to_constants import convert_variables_to_constants_v2

from artfinetune.io import atomic_path
from artfinetune.model.inception import (
    INPUT_OFFSET,
    LRN_LAYERS,
    POOL_LAYERS,
    build_inception_v1,
    lrn_attributes,
    transfer_weights,
    weight_layers,
)
from artfinetune.model.layers import WIDTHS

INPUT_NAME = "input"
IMAGE_VALUE_RANGE = (-INPUT_OFFSET, 255.0 - INPUT_OFFSET)


def exported_tensors(model: keras.Model) -> list[str]:
    """Names the exported graph provides: every registry tensor, the pools and the main head."""
    names = [*WIDTHS, *LRN_LAYERS, *POOL_LAYERS, "softmax2_pre_activation", "softmax2"]
    return [n for n in names if any(layer.name == n for layer in model.layers)]


def export_graph(model: keras.Model, out_path: str | Path) -> Path:
    """Freeze the trunk and main head of ``model`` into ``out_path`` (+ ``.json`` with Lucid's settings)."""
    out_path = Path(out_path)
    head = model.get_layer("softmax2")
    task = "single_label" if head.activation.__name__ == "softmax" else "multi_label"
    num_classes = model.get_layer("softmax2_pre_activation").units
    # Without auxiliary heads the graph accepts any input size, as Lucid's renders need.
    trunk = build_inception_v1(num_classes, task, input_size=None, aux_heads=False, lrn=lrn_attributes(model))
    copied = set(transfer_weights(model, trunk))
    missed = [layer.name for layer in weight_layers(trunk) if layer.name not in copied]
    if missed:  # never export random weights silently
        raise RuntimeError(f"export could not copy the weights of {missed} from the model")
    names = exported_tensors(trunk)
    probe = keras.Model(trunk.input, {n: trunk.get_layer(n).output for n in names})

    @tf.function(input_signature=[tf.TensorSpec([None, None, None, 3], tf.float32, name=INPUT_NAME)])
    def forward(lucid_input):
        return probe(lucid_input + INPUT_OFFSET)  # the model subtracts the offset again

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
    with atomic_path(out_path) as tmp:
        tmp.write_bytes(graph_def.SerializeToString())
    meta = {
        "input_name": INPUT_NAME,
        "image_value_range": list(IMAGE_VALUE_RANGE),
        "tensors": names,
        "num_classes": num_classes,
        "task": task,
    }
    with atomic_path(out_path.with_suffix(".json")) as tmp:
        tmp.write_text(json.dumps(meta, indent=1))
    return out_path


def export_model_file(model_path: str | Path, out_path: str | Path) -> Path:
    """The export_graph rule: a saved model frozen into ``out_path`` (+ its JSON), as :func:`export_graph` does."""
    from artfinetune.model.files import load_model

    return export_graph(load_model(model_path), out_path)
