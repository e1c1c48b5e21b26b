"""Feature visualisation of channels with Lucid, on a graph exported by :mod:`artfinetune.model.lucid_export`.

The paper's setting, as Lucid's ``render_vis`` runs it: FFT image parameterisation with colour decorrelation,
Lucid's standard transforms (pad, jitter, random scale, random rotation, jitter), Adam with learning rate 0.05,
and the redirected-ReLU gradient for the first 16 steps.

All channels of one call are optimised together, in one graph built once, by one Adam step per iteration. A
channel's render depends only on (model, channel, settings, seed), never on which channels share its call:

- each image is its own ``param.image(size, batch=1)``, whose initial spectrum Lucid draws from numpy's global
  generator; it is seeded, right before, from ``crc32("seed:channel:image")`` (the generator's state is put back);
- each image gets its own copy of the standard transforms, built from Lucid's transform functions with explicit
  op-level seeds derived from (seed, channel); TensorFlow would otherwise derive op seeds from creation order,
  which changes with the image's position in the batch;
- each image goes through its own import of the model: after per-image random scaling the transformed images
  differ in size and cannot share one batch tensor. Each image's loss reads only its own variable, and Adam
  updates each variable on its own, so the batch adds no coupling either. The price is about 0.5 s of graph
  building per image (most of it the gradient's operations, built one by one in Python); on a CPU the per-step
  cost is the same. The imports share one copy of the weights (:class:`SharedWeights`): each image's import
  holds only the operations its channel's layer reads, their constants mapped to that copy, which gives the
  same operations on the same values (the same renders, bit for bit) in a fraction of the memory (1.7 GB
  instead of 5.3 for 32 channels of the demo) and about a fifth less time.

TensorFlow's graph optimiser (grappler) rewrites the graph before its first step: about 1 s per channel on a CPU,
once, for steps about a third faster after. Over the paper's 2,048 steps it pays for itself many times; over a few
dozen (the demo's 32) it costs more than it saves, and ``optimise_graph=False`` skips it. The optimiser fuses and
reorders operations, so the two settings round differently, and over the optimisation some channels' images drift
visibly apart, as between two devices: a setting of its own, in each job's params.

The redirected-ReLU gradient is Lucid's (``lucid.misc.redirected_relu_grad``), applied to the model imports as
``render_vis`` does: it is on while the optimiser's global step is at most 16 (the first 17 steps) and off after.
"""

from __future__ import annotations

import copy
import json
import logging
import tempfile
import zlib
from dataclasses import dataclass
from pathlib import Path

import numpy as np
from PIL import Image

from artfinetune.errors import UserError
from artfinetune.io import atomic_path
from artfinetune.model.layers import parse_channel
from artfinetune.render.channels import changed_choice, pair_channels
from artfinetune.study.paths import channel_file

log = logging.getLogger(__name__)

PAD, JITTER_FIRST, JITTER_LAST = 12, 8, 4  # Lucid's standard_transforms' settings (a test compares them)
SCALES = [1 + (i - 5) / 50.0 for i in range(11)]
ANGLES = list(range(-10, 11)) + 5 * [0]  # degrees; 0 weighted six times, as in Lucid


def exported_model(lucid, graph_path: Path, size: int):
    """The exported graph (of any architecture) as a Lucid model, with the input range and name its export
    recorded."""
    meta = json.loads(graph_path.with_suffix(".json").read_text())

    class ExportedModel(lucid.Model):
        model_path = str(graph_path)
        image_shape = [size, size, 3]
        image_value_range = tuple(meta["image_value_range"])
        input_name = meta["input_name"]

    return ExportedModel()


def channel_seed(seed: int, channel: str, purpose: str = "image") -> int:
    """A seed for one use in one channel's render: stable across processes (crc32, not Python's salted hash)."""
    return zlib.crc32(f"{seed}:{channel}:{purpose}".encode())


def channel_image(L, size: int, seed: int):
    """One [1, size, size, 3] image in Lucid's FFT, colour-decorrelated parameterisation, its spectrum from ``seed``."""
    state = np.random.get_state()  # Lucid's fft_image draws its initial spectrum from numpy's global generator
    np.random.seed(seed)
    try:
        return L.param.image(size, batch=1, fft=True, decorrelate=True)
    finally:
        np.random.set_state(state)


def seeded_standard_transforms(L, seed: int, channel: str) -> list:
    """Lucid's ``transform.standard_transforms``, with op-level seeds of this channel's own."""
    t = L.transform
    return [
        t.pad(PAD, mode="constant", constant_value=0.5),
        t.jitter(JITTER_FIRST, seed=channel_seed(seed, channel, "jitter_first")),
        t.random_scale(SCALES, seed=channel_seed(seed, channel, "scale")),
        t.random_rotate(ANGLES, seed=channel_seed(seed, channel, "rotate")),
        t.jitter(JITTER_LAST, seed=channel_seed(seed, channel, "jitter_last")),
    ]


@dataclass
class RenderGraph:
    images: object  # [N, size, size, 3] in [0, 1], one image per channel
    objectives: list  # per channel: its mean activation on its transformed image
    vis_op: object  # one Adam step on every image
    global_step: object  # counts steps; the redirected-ReLU gradient is off once it passes 16


class SharedWeights:
    """A model's constants (its weights) imported once into the current graph, and the model's graph cut down to
    what some layers read, without those constants, to import once per image with the constants mapped to the
    shared copy (:meth:`layer_model`)."""

    def __init__(self, tf, model, scope: str = "weights"):
        self.tf, self.model = tf, model
        graph_def = model.graph_def
        constants = type(graph_def)()
        constants.node.extend(node for node in graph_def.node if node.op == "Const")
        self.names = {node.name for node in constants.node}
        tf.import_graph_def(constants, name=scope)
        graph = tf.get_default_graph()
        self.tensors = {name: graph.get_tensor_by_name(f"{scope}/{name}:0") for name in self.names}
        self._parts: dict[tuple[str, ...], tuple] = {}

    def layer_model(self, *layers: str):
        """A copy of the model whose graph holds only what ``layers`` read, minus the constants, and the input map
        of the constants it uses (what ``import_graph`` / Lucid's ``import_model`` take as ``input_map``)."""
        if layers not in self._parts:
            sub = self.tf.graph_util.extract_sub_graph(self.model.graph_def, list(dict.fromkeys(layers)))
            kept = type(sub)()
            kept.node.extend(node for node in sub.node if node.name not in self.names)
            used = {name.lstrip("^").split(":")[0] for node in kept.node for name in node.input}
            part = copy.copy(self.model)
            part._graph_def = kept  # Lucid's Model reads its graph from here (loaded lazily otherwise)
            self._parts[layers] = (part, {f"{n}:0": self.tensors[n] for n in sorted(used & self.names)})
        return self._parts[layers]


def build_render_graph(
    L, model, channels: list[str], size: int, lr: float, seed: int, shared: SharedWeights | None = None
) -> RenderGraph:
    """The optimisation graph of all ``channels``, in the current default graph (the model's weights imported
    there once, or taken from ``shared``)."""
    tf = L.render.tf
    global_step = tf.train.get_or_create_global_step()  # read by the redirected-ReLU gradient
    images, objectives = [], []
    shared = shared or SharedWeights(tf, model)
    with L.gradient_override.gradient_override_map(
        {"Relu": L.redirected_relu_grad.redirected_relu_grad, "Relu6": L.redirected_relu_grad.redirected_relu6_grad}
    ):
        for i, channel in enumerate(channels):
            layer, index = parse_channel(channel)
            image = channel_image(L, size, channel_seed(seed, channel))
            transformed = L.transform.compose(seeded_standard_transforms(L, seed, channel))(image)
            part, weights = shared.layer_model(layer)
            T = L.render.import_model(part, transformed, image, scope=f"image{i}", input_map=weights)
            images.append(image)
            objectives.append(L.objectives.channel(layer, index)(T))
    loss = tf.add_n(objectives)
    vis_op = tf.train.AdamOptimizer(lr).minimize(-loss, global_step=global_step)
    return RenderGraph(tf.concat(images, 0), objectives, vis_op, global_step)


def _activation_scores(L, shared: SharedWeights, channels: list[str], size: int):
    """A placeholder for [N, size, size, 3] images and each channel's mean activation on its image, no transforms."""
    tf = L.render.tf
    t_plain = tf.placeholder(tf.float32, [None, size, size, 3])
    parsed = [parse_channel(c) for c in channels]
    part, weights = shared.layer_model(*[layer for layer, _ in parsed])
    T = part.import_graph(t_plain, scope="plain", input_map=weights)
    return t_plain, [tf.reduce_mean(T(layer)[i, ..., index]) for i, (layer, index) in enumerate(parsed)]


def session_config(tf, optimise_graph: bool):
    """A session configuration with TensorFlow's graph optimiser on (its default) or off."""
    config = tf.ConfigProto()
    config.graph_options.rewrite_options.disable_meta_optimizer = not optimise_graph
    return config


def optimise(
    L, graph_path: Path, channels: list[str], size: int, steps: int, lr: float, seed: int, optimise_graph: bool = True
):
    """Run ``steps`` steps on all channels; returns the starting and final images and both activation scores."""
    tf = L.render.tf  # tf.compat.v1, as Lucid sees it
    model = exported_model(L, graph_path, size)
    with tf.Graph().as_default(), tf.Session(config=session_config(tf, optimise_graph)) as sess:
        tf.set_random_seed(seed)  # the op-level seeds decide; this only keeps any unseeded op reproducible
        shared = SharedWeights(tf, model)
        render = build_render_graph(L, model, channels, size, lr, seed, shared)
        t_plain, t_scores = _activation_scores(L, shared, channels, size)
        tf.global_variables_initializer().run()
        start = render.images.eval()
        every = max(1, steps // 10)
        for step in range(1, steps + 1):
            sess.run(render.vis_op)
            if step % every == 0 or step == steps:
                log.info("render %s: step %d/%d", ", ".join(channels), step, steps)
        final = render.images.eval()
        before = sess.run(t_scores, {t_plain: start})
        after = sess.run(t_scores, {t_plain: final})
    return start, final, before, after


def render_channels(
    graph_path: str | Path,
    channels: list[str],
    out_paths: list[str | Path],
    size: int = 224,
    steps: int = 2048,
    lr: float = 0.05,
    seed: int = 0,
    optimise_graph: bool = True,
) -> list[dict]:
    """Render each ``layer:channel`` of the exported graph to a PNG; returns per-channel scores.

    A score is the channel's mean activation on the starting image and on the
    result (no transforms), also written beside each PNG as JSON.
    """
    from artfinetune.render.lucid_compat import lucid

    for channel in channels:
        parse_channel(channel)  # before any graph building
    if len(out_paths) != len(channels):
        raise UserError(f"{len(channels)} channels but {len(out_paths)} output paths")
    _, final, before, after = optimise(lucid(), Path(graph_path), channels, size, steps, lr, seed, optimise_graph)
    results = []
    for i, (channel, out) in enumerate(zip(channels, out_paths, strict=True)):
        out = Path(out)
        with atomic_path(out) as tmp:
            Image.fromarray(np.uint8(np.clip(final[i], 0, 1) * 255 + 0.5)).save(tmp, format="PNG")
        score = {
            "channel": channel,
            "steps": steps,
            "size": size,
            "lr": lr,
            "seed": seed,
            "activation_start": float(before[i]),
            "activation_end": float(after[i]),
        }
        with atomic_path(out.with_suffix(".json")) as tmp:
            tmp.write_text(json.dumps(score, indent=1))
        log.info(
            "%s: mean activation %.3f on the starting image, %.3f after %d steps",
            channel,
            score["activation_start"],
            score["activation_end"],
            steps,
        )
        results.append(score)
    return results


def render_model_channels(
    channels: list[str],
    *,
    model=None,
    graph=None,
    outs: list | None = None,
    out_dir=None,
    size: int = 224,
    steps: int = 2048,
    lr: float = 0.05,
    seed: int = 0,
    batch: int = 8,
    optimise_graph: bool = True,
    threads: int = 0,
    changed_from=None,
    layers: list[str] = (),
    per_layer: int = 0,
    k: int | None = None,
) -> list[tuple[str, dict]]:
    """The render job: render ``channels`` (and, given a pair's overlap table ``changed_from``, per layer the
    ``per_layer`` channels changed most and least at ``k``) of a model file (exported to a graph on the fly) or of an
    exported graph, ``batch`` channels per graph (the graph optimiser on or off: ``optimise_graph``), to ``outs`` or
    ``out_dir/<layer>_<index>.png`` (default: the working folder). Every channel is checked before TensorFlow
    starts. Returns (output, score) per channel."""
    channels = list(channels)
    if changed_from:  # the named channels, then per layer the most and least changed, without repeats
        channels = pair_channels(channels, changed_choice(changed_from, layers, per_layer, k))
    for channel in channels:  # before any expensive work
        parse_channel(channel)
    if outs and len(outs) != len(channels):
        raise UserError(f"give one --out per --channel ({len(channels)} channels, {len(outs)} outputs)")
    if out_dir:
        Path(out_dir).mkdir(parents=True, exist_ok=True)  # exists even with no channel to render
        outs = [str(Path(out_dir) / channel_file(c)) for c in channels]
    else:
        outs = outs or [channel_file(c) for c in channels]
    if not channels:
        log.info("no channel to render")
        return []
    from artfinetune.gpu import start_tensorflow_job

    start_tensorflow_job(threads)
    with tempfile.TemporaryDirectory() as tmp:
        if graph is None:
            from artfinetune.model.files import load_model
            from artfinetune.model.lucid_export import export_graph

            graph = export_graph(load_model(model), Path(tmp) / "model.pb")
        scores = []
        settings = {"size": size, "steps": steps, "lr": lr, "seed": seed, "optimise_graph": optimise_graph}
        for start in range(0, len(channels), batch):  # a batch of channels per graph
            part = slice(start, start + batch)
            scores += render_channels(graph, channels[part], outs[part], **settings)
    return list(zip(outs, scores, strict=True))
