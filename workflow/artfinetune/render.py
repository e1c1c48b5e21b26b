"""Feature visualisation of channels with Lucid, on a graph exported by :mod:`artfinetune.model.lucid_export`.

The paper's setting: FFT image parameterisation with colour decorrelation,
Lucid's standard transforms (pad, jitter, random scale, random rotation,
jitter), Adam with learning rate 0.05. All channels of one call are optimised
together as one batch (one image per channel).
"""

from __future__ import annotations

import json
import logging
from pathlib import Path

import numpy as np
from PIL import Image

from artfinetune.errors import UserError
from artfinetune.io import atomic_path
from artfinetune.model.layers import parse_channel

log = logging.getLogger(__name__)


def _graph_model(lucid, graph_path: Path, size: int):
    meta = json.loads(graph_path.with_suffix(".json").read_text())

    class ExportedInceptionV1(lucid.Model):
        model_path = str(graph_path)
        image_shape = [size, size, 3]
        image_value_range = tuple(meta["image_value_range"])
        input_name = meta["input_name"]

    return ExportedInceptionV1()


def render_channels(
    graph_path: str | Path,
    channels: list[str],
    out_paths: list[str | Path],
    size: int = 224,
    steps: int = 2048,
    lr: float = 0.05,
    seed: int = 0,
) -> list[dict]:
    """Render each ``layer:channel`` of the exported graph to a PNG; returns per-channel scores.

    A score is the channel's mean activation on the starting image and on the
    result (no transforms), also written beside each PNG as JSON.
    """
    from artfinetune.lucid_compat import lucid

    parsed = [parse_channel(c) for c in channels]
    if len(out_paths) != len(channels):
        raise UserError(f"{len(channels)} channels but {len(out_paths)} output paths")
    graph_path = Path(graph_path)
    L = lucid()
    tf = L.render.tf  # tf.compat.v1, as Lucid sees it
    model = _graph_model(L, graph_path, size)
    objective = sum(L.objectives.channel(layer, ch, batch=i) for i, (layer, ch) in enumerate(parsed))

    def param_f():
        return L.param.image(size, batch=len(parsed), fft=True, decorrelate=True)

    with tf.Graph().as_default(), tf.Session() as sess:
        tf.set_random_seed(seed)
        T = L.render.make_vis_T(model, objective, param_f, tf.train.AdamOptimizer(lr), L.transform.standard_transforms)
        vis_op, t_image = T("vis_op"), T("input")
        # The same graph once more, fed directly (no transforms), to score images.
        t_plain = tf.placeholder(tf.float32, [None, size, size, 3])
        T_plain = model.import_graph(t_plain, scope="plain")
        t_scores = [tf.reduce_mean(T_plain(layer)[i, ..., ch]) for i, (layer, ch) in enumerate(parsed)]
        tf.global_variables_initializer().run()
        start = t_image.eval()
        every = max(1, steps // 10)
        for step in range(1, steps + 1):
            sess.run(vis_op)
            if step % every == 0 or step == steps:
                log.info("render %s: step %d/%d", ", ".join(channels), step, steps)
        final = t_image.eval()
        before = sess.run(t_scores, {t_plain: start})
        after = sess.run(t_scores, {t_plain: final})
    results = []
    for i, (spec, out) in enumerate(zip(channels, out_paths, strict=True)):
        out = Path(out)
        with atomic_path(out) as tmp:
            Image.fromarray(np.uint8(np.clip(final[i], 0, 1) * 255 + 0.5)).save(tmp, format="PNG")
        score = {
            "channel": spec,
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
            spec,
            score["activation_start"],
            score["activation_end"],
            steps,
        )
        results.append(score)
    return results
