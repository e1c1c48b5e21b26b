"""Commands of the data rules (``workflow/rules/data.smk``): demo datasets, downloads, image stores.

Each command parses its arguments and calls one stage function; the rules call these.
"""

from __future__ import annotations

from artfinetune.cli.args import add_dataset_args, at_least, dataset_section


def cmd_demo_dataset(args) -> None:
    from artfinetune.data.demo import demo_dataset_job

    print(demo_dataset_job(args.dataset, dataset_section(args, needs=("source",)), args.out, workers=args.workers))


def cmd_download(args) -> None:
    from artfinetune.data.layouts import download_job

    print(download_job(args.dataset, dataset_section(args, needs=("source",)), args.out, workers=args.workers))


def cmd_build_store(args) -> None:
    from artfinetune.data.store import store_job

    ds = dataset_section(args, needs=("task", "classes"))
    print(store_job(args.dataset, ds, args.table, args.root, args.store, args.manifest, workers=args.workers))


def cmd_store_info(args) -> None:
    from artfinetune.data.store import store_info_line

    for path in args.stores:
        print(store_info_line(path))


def add_commands(sub) -> None:
    p = sub.add_parser("demo-dataset", help="draw a demo dataset: JPEG files plus source.csv")
    add_dataset_args(p)
    p.add_argument("--out", required=True, help="output folder (gets images/ and source.csv)")
    p.add_argument("--workers", type=at_least(0), default=0, help="processes (default: all cores)")
    p.set_defaults(func=cmd_demo_dataset)

    p = sub.add_parser("download", help="download a real dataset and list its images in source.csv")
    add_dataset_args(p)
    p.add_argument("--out", required=True, help="output folder (gets download/, raw/ or images/, source.csv)")
    p.add_argument("--workers", type=at_least(0), default=8, help="parallel image downloads (url_list datasets)")
    p.set_defaults(func=cmd_download)

    p = sub.add_parser("build-store", help="decode a dataset once into an HDF5 image store plus its manifest")
    add_dataset_args(p)
    p.add_argument("--table", required=True, help="source table CSV (id, path, labels, split)")
    p.add_argument("--root", required=True, help="folder the table's image paths are relative to")
    p.add_argument("--store", required=True, help="output HDF5 store")
    p.add_argument("--manifest", required=True, help="output manifest CSV (source table + status)")
    p.add_argument("--workers", type=at_least(0), default=0, help="decoding processes (default: all cores)")
    p.set_defaults(func=cmd_build_store)

    p = sub.add_parser("store-info", help="summarise image stores")
    p.add_argument("stores", nargs="+", help="HDF5 store files")
    p.set_defaults(func=cmd_store_info)
