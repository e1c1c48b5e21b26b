"""Commands of the metrics rules (``workflow/rules/metrics.smk``): top-k sets, CKA, l2, overlap.

Each command parses its arguments and calls one stage function; the rules call these.
"""

from __future__ import annotations

from artfinetune.cli.args import at_least
from artfinetune.metrics.cka import JACKKNIFE_BLOCKS


def cmd_topk(args) -> None:
    from artfinetune.metrics.topk_files import topk_job

    print(topk_job(args.activations, args.k, args.out, args.composition))


def cmd_cka(args) -> None:
    from artfinetune.metrics.pairs import cka_table

    table = cka_table(args.activations_a, args.activations_b, args.out, blocks=args.blocks)
    table = table[table["metric"].isin(["linear_cka", "debiased_cka"])]
    print(table.pivot(index="layer", columns="metric", values="value").loc[table["layer"].unique()].to_string())


def cmd_l2(args) -> None:
    from artfinetune.metrics.pairs import l2_table

    names = args.names or [args.model_a, args.model_b]
    table = l2_table(args.model_a, args.model_b, args.out, *names)
    means = table[table["layer"] == "all"]
    print(", ".join(f"{m} {v:.4f}" for m, v in zip(means["metric"], means["value"], strict=True)))


def cmd_overlap(args) -> None:
    from artfinetune.metrics.pairs import overlap_table

    table = overlap_table(args.topk_a, args.topk_b, args.out, args.k)
    means = table.groupby(["layer", "metric", "k"], sort=False)["value"].mean().unstack(["metric", "k"])
    print(means.to_string(float_format=lambda v: f"{v:.3f}"))


def add_commands(sub) -> None:
    p = sub.add_parser("topk", help="top-k images of every channel (train split activations), and their classes")
    p.add_argument("activations", help="activations file (HDF5) of a model on the train split")
    p.add_argument("--k", type=at_least(1), nargs="+", required=True, help="set sizes, e.g. 100 1000")
    p.add_argument("--out", required=True, help="output HDF5 file of top-k image rows")
    p.add_argument("--composition", help="also write each set's three most frequent classes to this CSV")
    p.set_defaults(func=cmd_topk)

    p = sub.add_parser("cka", help="linear and debiased CKA per tensor between two models' activations (CSV)")
    p.add_argument("activations_a", help="activations of the first model (test split)")
    p.add_argument("activations_b", help="activations of the second model, same images")
    p.add_argument("--out", required=True, help="output CSV")
    p.add_argument(
        "--blocks",
        type=int,
        default=JACKKNIFE_BLOCKS,
        help=f"jackknife blocks of images for 95 %% intervals (default {JACKKNIFE_BLOCKS}; 0: none)",
    )
    p.set_defaults(func=cmd_cka)

    p = sub.add_parser("l2", help="l2 distance between two models' trunk convolution kernels (CSV)")
    p.add_argument("model_a", help="model file (.keras)")
    p.add_argument("model_b", help="model file (.keras)")
    p.add_argument("--names", nargs=2, help="the two models' names in the study (default: the file names)")
    p.add_argument("--out", required=True, help="output CSV")
    p.set_defaults(func=cmd_l2)

    p = sub.add_parser("overlap", help="top-k overlap and class entropy per channel between two models (CSV)")
    p.add_argument("topk_a", help="top-k file of the first model")
    p.add_argument("topk_b", help="top-k file of the second model, same images")
    p.add_argument("--k", type=at_least(1), nargs="+", required=True, help="set sizes, e.g. 100 1000")
    p.add_argument("--out", required=True, help="output CSV")
    p.set_defaults(func=cmd_overlap)
