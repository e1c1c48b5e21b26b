"""Lucid 0.3.10 on TensorFlow 2, without a copy of Lucid.

Lucid is a TensorFlow 1 library: it does ``import tensorflow as tf`` and calls
TF1 names (``tf.Session``, ``tf.placeholder``, ``tf.contrib.image.rotate``...).
:func:`lucid` imports Lucid's modules while ``tensorflow`` resolves to
``tf.compat.v1``, and gives that module the two ``contrib`` names Lucid uses:
an empty ``contrib.slim`` (imported by a parameterisation the study does not
use) and ``contrib.image.rotate``, rebuilt here on TF2's projective-transform
op. Lucid builds its own graph and session (``tf.Graph().as_default()``), so
rendering runs in graph mode inside that context while the rest of the process
stays eager; renders still get their own process (their own rule / CLI call).
"""

from __future__ import annotations

import importlib
import sys
import types
from types import SimpleNamespace

import tensorflow as tf

LUCID_MODULES = ("render", "param", "objectives", "transform")
MISC_MODULES = ("gradient_override", "redirected_relu_grad")  # render_vis's redirected-ReLU gradient


def rotate(images, angles, interpolation="BILINEAR", name=None):
    """Rotate images counter-clockwise by ``angles`` (radians) about their centres, zeros outside.

    ``images``: [batch, h, w, c] or [h, w, c]; ``angles``: a scalar or one per image.
    The same contract as TF1's ``tf.contrib.image.rotate``.
    """
    with tf.name_scope(name or "rotate"):
        images = tf.convert_to_tensor(images)
        single = images.shape.rank == 3
        if single:
            images = images[None]
        shape = tf.shape(images)
        h, w = tf.cast(shape[1], tf.float32), tf.cast(shape[2], tf.float32)
        angles = tf.broadcast_to(tf.cast(angles, tf.float32), [shape[0]])
        cos, sin = tf.cos(angles), tf.sin(angles)
        # Map each output pixel back to the input pixel it comes from (rotation about the centre).
        x_offset = ((w - 1) - (cos * (w - 1) - sin * (h - 1))) / 2.0
        y_offset = ((h - 1) - (sin * (w - 1) + cos * (h - 1))) / 2.0
        zeros = tf.zeros_like(angles)
        transforms = tf.stack([cos, -sin, x_offset, sin, cos, y_offset, zeros, zeros], axis=1)
        out = tf.raw_ops.ImageProjectiveTransformV3(
            images=images,
            transforms=transforms,
            output_shape=shape[1:3],
            fill_value=0.0,
            interpolation=interpolation.upper(),
            fill_mode="CONSTANT",
        )
        return out[0] if single else out


def _contrib_modules() -> dict[str, types.ModuleType]:
    contrib = types.ModuleType("tensorflow.contrib")
    slim = types.ModuleType("tensorflow.contrib.slim")
    image = types.ModuleType("tensorflow.contrib.image")
    image.rotate = rotate
    contrib.slim, contrib.image = slim, image
    return {"tensorflow.contrib": contrib, "tensorflow.contrib.slim": slim, "tensorflow.contrib.image": image}


_LUCID = None


def lucid() -> SimpleNamespace:
    """Lucid's ``render``, ``param``, ``objectives``, ``transform``, ``Model`` and the two modules of its
    redirected-ReLU gradient (``gradient_override``, ``redirected_relu_grad``), importable on TF2."""
    global _LUCID
    if _LUCID is not None:
        return _LUCID
    v1 = tf.compat.v1
    contrib = _contrib_modules()
    v1.contrib = contrib["tensorflow.contrib"]  # looked up at call time (transform.random_rotate)
    names = ["tensorflow", *contrib]
    saved = {name: sys.modules.get(name) for name in names}
    sys.modules.update({"tensorflow": v1, **contrib})
    try:
        modules = {m: importlib.import_module(f"lucid.optvis.{m}") for m in LUCID_MODULES}
        modules |= {m: importlib.import_module(f"lucid.misc.{m}") for m in MISC_MODULES}
        vision_base = importlib.import_module("lucid.modelzoo.vision_base")
    finally:
        for name, module in saved.items():
            if module is None:
                sys.modules.pop(name, None)
            else:
                sys.modules[name] = module
    _LUCID = SimpleNamespace(**modules, Model=vision_base.Model)
    return _LUCID
