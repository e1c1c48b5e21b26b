"""Findings: the paper's claims, checked on a study's own outputs.

Each finding has an id, the claim (one sentence), a verdict and a short statement with the numbers behind it.
The verdicts:

- ``holds``: the study's numbers satisfy the claim as defined below;
- ``does not hold``: they contradict it (the statement says where);
- ``cannot be judged``: the config lacks the finding's key (the statement names the key to set), or a file, row
  or layer it needs is missing, or a value it needs is NaN, or fewer than 3 layers are left to judge a trend on,
  or no layer (findings 4, 5) is left to compare once the frozen ones are left out.

"Falls" over per-layer values, in network order (conv2d0 ... mixed5b, whatever order the config's ``layers``
lists them in): there are at least 3 values, the Spearman rank correlation between the depth index and the value
is at most -0.5, and the mean of the shallowest third minus the mean of the deepest third is at least
``findings.min_drop`` (default 0.02); a third is ceil(n / 3) values at each end. Both comparisons are inclusive,
up to a rounding error of 1e-9. Constant values have no rank correlation and do not fall.

The findings (``findings`` section of the config; the pair and k default as stated):

1. ``cka_depth``: the linear CKA per layer between the two models of ``findings.depth.pair`` falls (fig. 5).
2. ``overlap_depth``: the mean over channels of the top-k overlapping ratio at ``findings.depth.overlap_k``
   (default: the smallest ``topk``), per layer, falls (fig. 6a).
3. ``entropy_depth``: the mean over channels of the fine-tuned model's (the pair's second model's) class entropy
   at ``findings.depth.entropy_k`` (default: the largest ``topk``) falls over the layers from the middle of the
   network on: the second half of the config's layers in network order, ``layers[len(layers) // 2:]`` (mixed4b
   ... mixed5b of the paper's 12). Channels with no positive image (NaN entropy) are left out of the mean. The
   first model's means are reported beside, not judged (fig. 6b).
4. ``init_distance_cka``: every fine-tuned pair of ``findings.init_distance.fine_tuned`` has a higher mean CKA
   (linear CKA averaged over layers, as in table 4) than every from-scratch pair of
   ``findings.init_distance.from_scratch``: the lowest fine-tuned value exceeds the highest from-scratch one
   (table 2, fig. 5). Every pair is averaged over the same layers: the config's layers that no model of any
   compared pair kept frozen from its init. A trained run keeps its mode's ``frozen`` layers (every layer off
   the shelf), so it equals its init there and its CKA with it is 1 by construction (the end from scratch keeps
   conv2d0 ... mixed3b of ImageNet); an init and a run's starting weights (``run/seed/init``) keep nothing.
   The statement names the layers left out and the models that kept them frozen.
5. ``init_distance_l2``: every fine-tuned pair has a lower mean l2 than every from-scratch pair: the highest
   fine-tuned value is below the lowest from-scratch one (table 2). The mean is over the trunk's convolutions
   (the l2 file's mean, as in table 2) unless a model of a compared pair kept layers frozen, where its l2 is 0 by
   construction: then every pair is averaged over the convolutions of the layers none kept frozen, as in 4.
6. ``fine_tuning_beats_off_the_shelf``: for each comparison of ``findings.fine_tuning`` and each dataset its two
   rows share in its result table, the fine-tuned row's mean over seeds of the dataset's main metric (top1 for a
   single-label dataset, mAP for a multi-label one) is strictly greater than the off-the-shelf row's (tables 1, 3).
7. ``double_beats_direct``: the same for the comparisons of ``findings.double_fine_tuning``: the double fine-tuned
   row against the directly fine-tuned row (table 3).
8. ``render_change_overlap`` (the paper's open question, sec. 4.2: "channels with low overlapping ratio seem to
   correspond to optimized images that are more modified by the fine-tuning"): over the channels of the gallery
   pair ``findings.render_change.pair`` drawn at random (``render.sample`` per layer, chosen without looking at any
   result), Spearman's rho between the top-k overlap at ``render.k`` and the render-change score (1 - the
   correlation of the two renders' pixels, :mod:`artfinetune.render.change`) is negative with its 95 % interval
   (Fisher's, :mod:`artfinetune.report.findings.correlation`) entirely below 0: ``holds``; an interval that
   includes 0 or lies above it: ``does not hold`` (the statement says which); fewer usable channels than
   ``findings.render_change.min_channels`` (default 20): ``cannot be judged``.

Findings 4 to 7 compare several values: one comparison that fails makes the finding ``does not hold`` (even if
others cannot be read, since a counterexample settles it); otherwise it ``holds`` only if every comparison
could be made, and ``cannot be judged`` if some could not (the statement names the missing file or row).

Beside each verdict, not in it, the spread across seeds: findings 1 to 3 give the drop (shallowest third minus
deepest third) of the pair and of its seed variants (the same pair with each trained model's seed replaced by
another seed all its runs have), findings 4 and 5 the gap between the groups against the largest spread of a
pair over its seeds, findings 6 and 7 each difference against the rows' largest spread over their seeds (tables
1 and 3's ``spread``); each says whether the effect is larger than that spread or within it.
"""

from artfinetune.report.findings.judge import entropy_layers
from artfinetune.report.findings.spec import findings_inputs, findings_spec
from artfinetune.report.findings.trend import DEFAULT_MIN_DROP, Trend, falls, third, trend
from artfinetune.report.findings.verdicts import FAILS, HOLDS, UNJUDGED, VERDICTS, CannotJudge, Finding
from artfinetune.report.findings.write import FINDINGS, evaluate_findings, to_markdown, write_findings

__all__ = [
    "DEFAULT_MIN_DROP",
    "FAILS",
    "FINDINGS",
    "HOLDS",
    "UNJUDGED",
    "VERDICTS",
    "CannotJudge",
    "Finding",
    "Trend",
    "entropy_layers",
    "evaluate_findings",
    "falls",
    "findings_inputs",
    "findings_spec",
    "third",
    "to_markdown",
    "trend",
    "write_findings",
]
