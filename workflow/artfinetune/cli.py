"""The ``artfinetune`` command: one subcommand per stage, each a thin wrapper over one package function.

Snakemake rules call these; so can a user, without Snakemake. A dataset is named
either by ``--config FILE`` (the study config, validated) or by ``--dataset-json``
(the dataset's completed config section, as the rules pass it).
"""

from __future__ import annotations

import argparse
import json
import logging
import sys

from artfinetune.io import setup_logging

log = logging.getLogger("artfinetune")


def _dataset_section(args) -> dict:
    if args.dataset_json:
        return json.loads(args.dataset_json)
    if not args.config:
        raise SystemExit("give --config FILE (the study config) or --dataset-json")
    from artfinetune.config import load_config

    config = load_config(args.config)
    if args.dataset not in config["datasets"]:
        raise SystemExit(f"dataset {args.dataset!r} is not in {args.config}; choose from {list(config['datasets'])}")
    return config["datasets"][args.dataset]


def _add_dataset_args(p: argparse.ArgumentParser) -> None:
    p.add_argument("dataset", help="dataset name (a key of the config's datasets)")
    g = p.add_mutually_exclusive_group()
    g.add_argument("--config", help="study config file (validated) to read the dataset from")
    g.add_argument("--dataset-json", help="the dataset's config section as JSON (what the rules pass)")


def cmd_check_config(args) -> None:
    from artfinetune.config import load_config

    config = load_config(args.config)
    print(
        f"{args.config}: valid ({len(config['datasets'])} datasets, {len(config['modes'])} modes, "
        f"{len(config['runs'])} runs x {len(config['seeds'])} seeds)"
    )
    if args.show:
        import yaml

        print(yaml.safe_dump(config, sort_keys=False, allow_unicode=True))


def cmd_demo_dataset(args) -> None:
    from artfinetune.data.demo import generate_demo_dataset

    ds = _dataset_section(args)
    src = ds["source"]
    if src["kind"] != "demo":
        raise SystemExit(f"dataset {args.dataset!r} is not a demo dataset (source kind {src['kind']!r})")
    table = generate_demo_dataset(
        args.out,
        src["generator"],
        classes=ds.get("classes"),
        images_per_class=src["images_per_class"],
        image_size=src["image_size"],
        splits=src["splits"],
        seed=src["seed"],
        workers=args.workers,
    )
    print(table)


def cmd_download(args) -> None:
    from artfinetune.data.download import prepare_dataset
    from artfinetune.data.sources import REAL_KINDS, load_spec

    ds = _dataset_section(args)
    if ds["source"]["kind"] not in REAL_KINDS:
        raise SystemExit(f"dataset {args.dataset!r} is not downloaded (source kind {ds['source']['kind']!r})")
    print(prepare_dataset(args.dataset, load_spec(ds["source"]), args.out, workers=args.workers))


def cmd_build_store(args) -> None:
    from artfinetune.data.store import build_store

    ds = _dataset_section(args)
    summary = build_store(
        args.table,
        args.root,
        args.store,
        args.manifest,
        classes=ds["classes"],
        task=ds["task"],
        store_size=ds["store_size"],
        dataset=args.dataset,
        val_fraction=ds["val_fraction"],
        split_seed=ds["split_seed"],
        workers=args.workers,
    )
    print(
        f"{args.dataset}: {args.store} ({summary['stored']} images: "
        f"{', '.join(f'{k} {v}' for k, v in summary['splits'].items())}; left out {summary['left_out']}, "
        f"see {args.manifest})"
    )


def cmd_store_info(args) -> None:
    from artfinetune.data.store import read_store_info

    for path in args.stores:
        info = read_store_info(path)
        print(
            f"{path}: {info['dataset']} ({info['task']}, {len(info['classes'])} classes, {info['n']} images "
            f"of {info['store_size']} px; {info['split_counts']}; left out {info['n_failed']})"
        )


def cmd_summary(args) -> None:
    from pathlib import Path

    from artfinetune.config import load_config
    from artfinetune.data.store import read_store_info

    config = load_config(args.config)
    results = Path(config["results"])
    print(f"{args.config}: outputs under {results.resolve()}")
    for name in config["datasets"]:
        store = results / "data" / name / "store.h5"
        if store.exists():
            info = read_store_info(store)
            counts = ", ".join(f"{k} {v}" for k, v in info["split_counts"].items())
            print(f"  store {name}: {store} ({info['n']} images: {counts}; left out {info['n_failed']})")
        else:
            print(f"  store {name}: not built yet ({store})")


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="artfinetune",
        description="Stages of the artfinetune study (each also runs as a Snakemake rule).",
    )
    parser.add_argument("-v", "--verbose", action="store_true", help="debug logging")
    sub = parser.add_subparsers(dest="command", required=True, metavar="COMMAND")

    p = sub.add_parser("check-config", help="validate a study config and print its size")
    p.add_argument("config", help="config file, e.g. config.yaml or resources/demo/config.yaml")
    p.add_argument("--show", action="store_true", help="print the config with defaults filled in")
    p.set_defaults(func=cmd_check_config)

    p = sub.add_parser("demo-dataset", help="draw a demo dataset: JPEG files plus source.csv")
    _add_dataset_args(p)
    p.add_argument("--out", required=True, help="output folder (gets images/ and source.csv)")
    p.add_argument("--workers", type=int, default=0, help="processes (default: all cores)")
    p.set_defaults(func=cmd_demo_dataset)

    p = sub.add_parser("download", help="download a real dataset and list its images in source.csv")
    _add_dataset_args(p)
    p.add_argument("--out", required=True, help="output folder (gets download/, raw/ or images/, source.csv)")
    p.add_argument("--workers", type=int, default=8, help="parallel image downloads (url_list datasets)")
    p.set_defaults(func=cmd_download)

    p = sub.add_parser("build-store", help="decode a dataset once into an HDF5 image store plus its manifest")
    _add_dataset_args(p)
    p.add_argument("--table", required=True, help="source table CSV (id, path, labels, split)")
    p.add_argument("--root", required=True, help="folder the table's image paths are relative to")
    p.add_argument("--store", required=True, help="output HDF5 store")
    p.add_argument("--manifest", required=True, help="output manifest CSV (source table + status)")
    p.add_argument("--workers", type=int, default=0, help="decoding processes (default: all cores)")
    p.set_defaults(func=cmd_build_store)

    p = sub.add_parser("store-info", help="summarise image stores")
    p.add_argument("stores", nargs="+", help="HDF5 store files")
    p.set_defaults(func=cmd_store_info)

    p = sub.add_parser("summary", help="list a study's outputs and where they are")
    p.add_argument("config", help="study config file")
    p.set_defaults(func=cmd_summary)
    return parser


def main(argv: list[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    setup_logging(args.verbose)
    from artfinetune.config import ConfigError
    from artfinetune.data.download import DownloadError
    from artfinetune.data.store import StoreError

    try:
        args.func(args)
    except (ConfigError, StoreError, DownloadError, FileNotFoundError, ValueError) as err:
        if args.verbose:
            raise
        log.error("%s", err)
        print(f"artfinetune {args.command}: {err}", file=sys.stderr)
        return 2
    return 0


if __name__ == "__main__":
    sys.exit(main())
