"""Commands of the train rules (``workflow/rules/train.smk``): pretraining, training, ensembles.

Each command parses its arguments and calls one stage function; the rules call these.
"""

from __future__ import annotations

import argparse

from artfinetune.cli.args import add_reader_workers_arg, at_least, json_arg, reader_workers
from artfinetune.errors import UserError
from artfinetune.model.architectures import ARCHITECTURES
from artfinetune.model.architectures import DEFAULT as DEFAULT_ARCHITECTURE


def _metrics_text(result: dict) -> str:
    return ", ".join(f"{k} {v:.2f}" for k, v in result["metrics"].items() if isinstance(v, float))


def cmd_train(args) -> None:
    from artfinetune.train.runs import resolve_run, train_job

    if args.config:
        from artfinetune.study.config import load_config

        if args.architecture:
            raise UserError("--architecture is for a run given in full; a config's run has its own (runs.<run>)")

        job = resolve_run(load_config(args.config), args.run, args.seed, args.config)
        job["reader_workers"] = args.reader_workers or job["reader_workers"]
    else:
        from artfinetune.study.config import complete_section

        if not (args.mode_json and args.store and args.out and args.image_size):
            raise SystemExit("give --config FILE, or all of --mode-json, --store, --out and --image-size")
        job = {
            "mode": complete_section("mode", json_arg(args.mode_json, "--mode-json"), "--mode-json"),
            "store": args.store,
            "out_dir": args.out,
            "init_model": args.init or None,
            "image_size": args.image_size,
            "mixed_precision": args.mixed_precision,
            "deterministic": args.deterministic,
            "reader_workers": reader_workers(args),
            "architecture": args.architecture,
        }
    out, result = train_job(args.seed, job, args.max_epochs, args.threads)
    if result:
        print(f"{out}: {_metrics_text(result)}")
    else:
        print(f"{out}: stopped after {args.max_epochs} epochs; run again to resume")


def cmd_ensemble(args) -> None:
    from artfinetune.train.evaluate import evaluate_ensemble

    result = evaluate_ensemble(args.predictions, args.out)
    print(f"{args.out}: {_metrics_text(result)}")


def add_commands(sub) -> None:
    p = sub.add_parser(
        "train",
        help="train one run with one seed (resumes from its checkpoint)",
        description="Train a run: either by name from a study config (--config), or fully specified "
        "(--mode-json, --store, --out, --image-size, optional --init). Writes init.keras, model.keras, "
        "history.csv, eval.json and predictions.npz to the run's folder.",
    )
    p.add_argument("run", nargs="?", default="", help="run name (with --config)")
    p.add_argument(
        "--seed", type=at_least(0), required=True, help="the run's seed: head init, batch order, augmentation"
    )
    p.add_argument("--config", help="study config file")
    p.add_argument("--mode-json", help="the mode's config section as JSON")
    p.add_argument("--store", help="the dataset's image store")
    p.add_argument("--out", help="output folder")
    p.add_argument("--init", help="model to start from (.keras); omitted: a random init from the seed")
    p.add_argument("--image-size", type=at_least(64), help="network input size (px)")
    p.add_argument(
        "--architecture",
        choices=sorted(ARCHITECTURES),
        help=f"the network of a random init (default {DEFAULT_ARCHITECTURE}); from --init, the init's (naming "
        "another is an error)",
    )
    p.add_argument("--mixed-precision", action="store_true", help="mixed float16 training")
    p.add_argument(
        "--deterministic",
        action=argparse.BooleanOptionalAction,
        default=True,
        help="TensorFlow op determinism (same seed, same weights); --no-deterministic may be faster on GPUs",
    )
    p.add_argument("--threads", type=at_least(0), default=0, help="TensorFlow threads (default: all cores)")
    add_reader_workers_arg(p)
    p.add_argument("--max-epochs", type=at_least(1), default=None, help="stop after this many epochs (resume later)")
    p.set_defaults(func=cmd_train)

    p = sub.add_parser("ensemble", help="average the test predictions of several runs and evaluate them")
    p.add_argument("predictions", nargs="+", help="predictions.npz of each member")
    p.add_argument("--out", required=True, help="output folder (eval.json, predictions.npz)")
    p.set_defaults(func=cmd_ensemble)
