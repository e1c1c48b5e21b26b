"""A GraphDef shaped like Lucid's InceptionV1.pb, built from raw TensorFlow ops with random constants.

Node names, op types and shapes follow ``reference/inception_v1_lucid.md``: each
convolution is ``<name>_pre_relu/conv`` (Conv2D) -> ``<name>_pre_relu`` (BiasAdd)
-> ``<name>`` (Relu) reading the constants ``<name>_w`` / ``<name>_b``; mixed
blocks are old-style ``Concat`` ops (axis first) of 1x1, 3x3, 5x5, pool_reduce
(``concat_op="ConcatV2"`` gives the newer op, axis last). The input placeholder
``input`` takes Lucid's range [-117, 138].
"""

import numpy as np
import tensorflow as tf

V1 = tf.compat.v1
# Lucid's InceptionV1, written out from reference/inception_v1_lucid.md (not taken from the registry under test).
STEM = {"conv2d0": (7, 2, 64), "conv2d1": (1, 1, 64), "conv2d2": (3, 1, 192)}  # kernel, stride, out channels
MIXED = {  # 1x1, 3x3_bottleneck, 3x3, 5x5_bottleneck, 5x5, pool_reduce
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
CONCAT = {
    "mixed3a": 256,
    "mixed3b": 480,
    "mixed4a": 508,
    "mixed4b": 512,
    "mixed4c": 512,
    "mixed4d": 528,
    "mixed4e": 832,
    "mixed5a": 832,
    "mixed5b": 1024,
}
LRN = {"depth_radius": 5, "bias": 2.0, "alpha": 3e-4, "beta": 0.6}  # deliberately not the Keras defaults


def build_lucid_graphdef(
    num_classes=1008, seed=0, widths=None, rename=None, lrn=LRN, concat_order=None, concat_op="Concat", add_shapes=False
):
    """Return the graph_def. ``widths`` overrides block widths; ``rename`` maps node names; ``concat_order`` maps a
    block to the order its concat takes the branches (default 1x1, 3x3, 5x5, pool_reduce); ``add_shapes`` writes
    every node's ``_output_shapes``."""
    rng = np.random.default_rng(seed)
    widths = {**MIXED, **(widths or {})}
    rename = rename or {}
    concat_order = concat_order or {}

    def n(name):
        return rename.get(name, name)

    def const(name, shape, fan_in):
        scale = np.sqrt(2.0 / fan_in) if name.endswith("_w") else 0.1
        return tf.constant(rng.normal(0, scale, shape).astype(np.float32), name=n(name))

    def conv(x, name, out, k, stride=1):
        cin = x.shape[-1]
        w = const(f"{name}_w", (k, k, cin, out), k * k * cin)
        b = const(f"{name}_b", (out,), 1)
        y = tf.nn.conv2d(x, w, [1, stride, stride, 1], "SAME", name=n(f"{name}_pre_relu/conv"))
        y = tf.nn.bias_add(y, b, name=n(f"{name}_pre_relu"))
        return tf.nn.relu(y, name=n(name))

    def dense(x, name, out, act):
        cin = x.shape[-1]
        w, b = const(f"{name}_w", (cin, out), cin), const(f"{name}_b", (out,), 1)
        pre = "_pre_relu" if act == "relu" else "_pre_activation"
        y = tf.nn.bias_add(tf.matmul(x, w, name=n(f"{name}{pre}/matmul")), b, name=n(f"{name}{pre}"))
        return tf.nn.relu(y, name=n(name)) if act == "relu" else tf.nn.softmax(y, name=n(name))

    def maxpool(x, name, k, s):
        return tf.nn.max_pool2d(x, k, s, "SAME", name=n(name))

    def head(x, index):
        x = tf.nn.avg_pool2d(x, 5, 3, "VALID", name=n(f"head{index}_pool"))
        x = conv(x, f"head{index}_bottleneck", 128, 1)
        x = tf.reshape(x, [-1, 2048], name=n(f"head{index}_bottleneck/reshape"))
        x = dense(x, f"nn{index}", 1024, "relu")
        return dense(x, f"softmax{index}", num_classes, "softmax")

    graph = tf.Graph()
    with graph.as_default():
        x = V1.placeholder(tf.float32, [None, 224, 224, 3], name="input")
        for name, (k, s, out) in STEM.items():
            x = conv(x, name, out, k, s)
            if name == "conv2d0":
                x = maxpool(x, "maxpool0", 3, 2)
                x = tf.nn.local_response_normalization(x, **lrn, name=n("localresponsenorm0"))
        x = tf.nn.local_response_normalization(x, **lrn, name=n("localresponsenorm1"))
        x = maxpool(x, "maxpool1", 3, 2)
        for block, (c1, c3b, c3, c5b, c5, cp) in widths.items():
            b1 = conv(x, f"{block}_1x1", c1, 1)
            b3 = conv(conv(x, f"{block}_3x3_bottleneck", c3b, 1), f"{block}_3x3", c3, 3)
            b5 = conv(conv(x, f"{block}_5x5_bottleneck", c5b, 1), f"{block}_5x5", c5, 5)
            bp = conv(tf.nn.max_pool2d(x, 3, 1, "SAME", name=n(f"{block}_pool")), f"{block}_pool_reduce", cp, 1)
            branches = {"1x1": b1, "3x3": b3, "5x5": b5, "pool_reduce": bp}
            values = [branches[b] for b in concat_order.get(block, ("1x1", "3x3", "5x5", "pool_reduce"))]
            axis = tf.constant(3, name=n(f"{block}/concat_dim"))
            if concat_op == "Concat":
                x = tf.raw_ops.Concat(concat_dim=axis, values=values, name=n(block))
            else:
                x = tf.raw_ops.ConcatV2(values=values, axis=axis, name=n(block))
            if block == "mixed4a":
                head(x, 0)
            if block == "mixed4d":
                head(x, 1)
            if block in ("mixed3b", "mixed4e"):
                x = maxpool(x, {"mixed3b": "maxpool4", "mixed4e": "maxpool10"}[block], 3, 2)
        x = tf.nn.avg_pool2d(x, 7, 1, "VALID", name=n("avgpool0"))
        x = tf.reshape(x, [-1, 1024], name=n("avgpool0/reshape"))
        dense(x, "softmax2", num_classes, "softmax")
    return graph.as_graph_def(add_shapes=add_shapes)


def run_graphdef(graph_def, tensors, lucid_input):
    """Evaluate named tensors of a GraphDef on an input in Lucid's range."""
    with tf.Graph().as_default() as graph:
        tf.graph_util.import_graph_def(graph_def, name="")
        with V1.Session(graph=graph) as sess:
            return sess.run([f"{t}:0" for t in tensors], {"input:0": lucid_input})
