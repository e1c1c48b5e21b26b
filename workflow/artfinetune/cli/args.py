"""Argument helpers shared by the commands: JSON options, bounded integers, the options several commands share."""

from __future__ import annotations

import argparse
import json

from artfinetune.errors import UserError


def json_arg(text: str, option: str):
    """An option's JSON value; invalid JSON is one sentence naming the option."""
    try:
        return json.loads(text)
    except json.JSONDecodeError as err:
        raise UserError(f"{option} is not valid JSON ({err}); quote it for the shell, e.g. '{{\"key\": 1}}'") from None


def at_least(minimum: int):
    """An argparse type: an integer no smaller than ``minimum``."""

    def parse(text: str) -> int:
        try:
            value = int(text)
        except ValueError:
            raise argparse.ArgumentTypeError(f"{text!r} is not an integer") from None
        if value < minimum:
            raise argparse.ArgumentTypeError(f"{value} is below the minimum of {minimum}")
        return value

    return parse


def add_reader_workers_arg(p: argparse.ArgumentParser) -> None:
    from artfinetune.study.config import READER_WORKERS_ENV

    p.add_argument(
        "--reader-workers",
        type=at_least(1),
        help=f"processes preparing the batches (1: a background thread); the same batches whatever the number. "
        f"Default: ${READER_WORKERS_ENV}, which the workflow sets from the config's reader_workers, else 1",
    )


def reader_workers(args) -> int:
    """--reader-workers if given, else the workflow's setting in the environment (1 if none)."""
    from artfinetune.study.config import reader_workers_from_env

    return args.reader_workers or reader_workers_from_env()


def add_table_args(p: argparse.ArgumentParser, spec_help: str) -> None:
    """The spec and the outputs of a table command (tables 1-5): CSV, markdown and the report's HTML page."""
    p.add_argument("--spec-json", required=True, help=spec_help)
    p.add_argument("--out-csv", required=True)
    p.add_argument("--out-md", required=True)
    p.add_argument("--out-html", help="also an HTML page of the table (for the report)")


def add_changed_args(p: argparse.ArgumentParser, k_required: bool = False) -> None:
    """The automatic choice of a pair's channels, most and least changed per layer (render, mosaics)."""
    p.add_argument("--changed-from", help="a pair's overlap.csv: also take, per layer, the most and least changed")
    p.add_argument("--layers", nargs="+", default=[], help="layers of the automatic choice")
    p.add_argument("--per-layer", type=at_least(0), default=0, help="channels changed most (and least) per layer")
    p.add_argument("--k", type=at_least(1), required=k_required, help="top-k size of the overlap (and mosaics)")


def add_dataset_args(p: argparse.ArgumentParser) -> None:
    p.add_argument("dataset", help="dataset name (a key of the config's datasets)")
    g = p.add_mutually_exclusive_group()
    g.add_argument("--config", help="study config file (validated) to read the dataset from")
    g.add_argument("--dataset-json", help="the dataset's config section as JSON (what the rules pass)")


def dataset_section(args, needs: tuple[str, ...]) -> dict:
    """The dataset's config section: from --dataset-json (checked, defaults filled) or from --config."""
    from artfinetune.study.config import complete_dataset, dataset_from_config

    if args.dataset_json:
        return complete_dataset(json_arg(args.dataset_json, "--dataset-json"), "--dataset-json", needs)
    if not args.config:
        raise SystemExit("give --config FILE (the study config) or --dataset-json")
    return dataset_from_config(args.config, args.dataset)
