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


def _json_arg(text: str, option: str):
    from artfinetune.errors import UserError

    try:
        return json.loads(text)
    except json.JSONDecodeError as err:
        raise UserError(f"{option} is not valid JSON ({err}); quote it for the shell, e.g. '{{\"key\": 1}}'") from None


def _at_least(minimum: int):
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


def _add_table_args(p: argparse.ArgumentParser, spec_help: str) -> None:
    """The spec and the outputs of a table command (tables 1-4): CSV, markdown and the report's HTML page."""
    p.add_argument("--spec-json", required=True, help=spec_help)
    p.add_argument("--out-csv", required=True)
    p.add_argument("--out-md", required=True)
    p.add_argument("--out-html", help="also an HTML page of the table (for the report)")


def _add_changed_args(p: argparse.ArgumentParser, k_required: bool = False) -> None:
    p.add_argument("--changed-from", help="a pair's overlap.csv: also take, per layer, the most and least changed")
    p.add_argument("--layers", nargs="+", default=[], help="layers of the automatic choice")
    p.add_argument("--per-layer", type=_at_least(0), default=0, help="channels changed most (and least) per layer")
    p.add_argument("--k", type=_at_least(1), required=k_required, help="top-k size of the overlap (and mosaics)")


def _dataset_section(args, needs: tuple[str, ...]) -> dict:
    """The dataset's config section: from --dataset-json (checked, defaults filled) or from --config."""
    if args.dataset_json:
        from artfinetune.config import ConfigError, complete_section
        from artfinetune.data.sources import source_classes

        ds = complete_section("dataset", _json_arg(args.dataset_json, "--dataset-json"), "--dataset-json")
        if "classes" in needs and "classes" not in ds and "source" in ds:
            ds["classes"] = source_classes(ds["source"])  # None when the source does not name its classes
            if ds["classes"] is None:
                raise ConfigError("--dataset-json needs a 'classes' list (its source does not name its classes)")
        return complete_section("dataset", ds, "--dataset-json", needs)
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

    ds = _dataset_section(args, needs=("source",))
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

    ds = _dataset_section(args, needs=("source",))
    if ds["source"]["kind"] not in REAL_KINDS:
        raise SystemExit(f"dataset {args.dataset!r} is not downloaded (source kind {ds['source']['kind']!r})")
    print(prepare_dataset(args.dataset, load_spec(ds["source"]), args.out, workers=args.workers))


def cmd_build_store(args) -> None:
    from artfinetune.data.store import build_store

    ds = _dataset_section(args, needs=("task", "classes"))
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
        f"{', '.join(f'{k} {v}' for k, v in summary['splits'].items())}; {summary['unlabeled']} without a label; "
        f"left out {summary['left_out']}, "
        f"see {args.manifest})"
    )


def cmd_store_info(args) -> None:
    from artfinetune.data.store import read_store_info

    for path in args.stores:
        info = read_store_info(path)
        print(
            f"{path}: {info['dataset']} ({info['task']}, {len(info['classes'])} classes, {info['n']} images "
            f"of {info['store_size']} px; {info['split_counts']}; {info.get('n_unlabeled', 0)} without a label; "
            f"left out {info['n_failed']})"
        )


def cmd_summary(args) -> None:
    from pathlib import Path

    from artfinetune import paths
    from artfinetune.config import load_config
    from artfinetune.data.store import read_store_info

    config = load_config(args.config)
    print(f"{args.config}: outputs under {Path(config['results']).resolve()}")
    for name in config["datasets"]:
        store = Path(paths.store_path(config, name))
        if store.exists():
            info = read_store_info(store)
            counts = ", ".join(f"{k} {v}" for k, v in info["split_counts"].items())
            print(f"  store {name}: {store} ({info['n']} images: {counts}; left out {info['n_failed']})")
        else:
            print(f"  store {name}: not built yet ({store})")
    for init in config["init"]:
        model = Path(paths.init_dir(config, init)) / "model.keras"
        print(f"  init {init}: {model}" + ("" if model.exists() else " (not built yet)"))
    models = [
        Path(paths.run_dir(config, r, s)) for r in [*config["runs"], *config["ensembles"]] for s in config["seeds"]
    ]
    done = sum((m / "eval.json").exists() for m in models)
    print(f"  runs: {done} of {len(models)} trained and evaluated, under {Path(config['results']) / 'models'}")
    from artfinetune.config import analysis_pairs

    pairs = analysis_pairs(config)
    measured = sum(Path(paths.pair_dir(config, p), "overlap.csv").exists() for p in pairs)
    print(f"  model pairs: {measured} of {len(pairs)} measured, under {Path(config['results']) / 'comparisons'}")
    for figure in config["figures"]:
        png = Path(paths.figure_path(config, figure))
        print(f"  figure {figure}: {png}" + ("" if png.exists() else " (not built yet)"))
    for table in [*config["tables"], *config["comparison_tables"]]:
        md = Path(paths.table_path(config, table, "md"))
        if md.exists():
            print(f"  table {table}: {md}\n")
            print(md.read_text())
        else:
            print(f"  table {table}: not built yet ({md})")
    findings = Path(paths.findings_path(config))
    if findings.exists():
        print(f"  findings: {findings}\n")
        print(findings.read_text(encoding="utf-8"))
    else:
        print(f"  findings: not judged yet ({findings})")


def cmd_import_lucid(args) -> None:
    from artfinetune.model.lucid_import import import_lucid

    print(import_lucid(args.pb, args.out, input_size=args.input_size))


def cmd_fetch_lucid(args) -> None:
    from pathlib import Path

    from artfinetune.data.download import fetch

    out = Path(args.out)
    path = fetch(args.url, args.sha256 or None, out.parent, fname=out.name, spec_name="the init section of the config")
    print(path)


def cmd_random_model(args) -> None:
    import keras

    from artfinetune.model.files import save_model
    from artfinetune.model.inception import build_inception_v1

    keras.utils.set_random_seed(args.seed)
    model = build_inception_v1(args.classes, args.task, input_size=args.input_size, aux_heads=args.aux_heads)
    print(save_model(model, args.out))


def cmd_export(args) -> None:
    from artfinetune.model.files import load_model
    from artfinetune.model.lucid_export import export_graph

    print(export_graph(load_model(args.model), args.out))


def cmd_render(args) -> None:
    import tempfile
    from pathlib import Path

    from artfinetune.model.layers import parse_channel
    from artfinetune.paths import channel_file

    channels = list(args.channel or [])
    if args.changed_from:  # per layer, the channels whose top-k sets changed most and least
        from artfinetune.pair_views import pair_channels

        changed = {"overlap_csv": args.changed_from, "layers": args.layers, "per_layer": args.per_layer, "k": args.k}
        channels = pair_channels(channels, changed)
    for channel in channels:  # before any expensive work
        parse_channel(channel)
    if args.out and len(args.out) != len(channels):
        raise SystemExit(f"give one --out per --channel ({len(channels)} channels, {len(args.out)} outputs)")
    if args.out_dir:
        Path(args.out_dir).mkdir(parents=True, exist_ok=True)  # exists even with no channel to render
        outs = [str(Path(args.out_dir) / channel_file(c)) for c in channels]
    else:
        outs = args.out or [channel_file(c) for c in channels]
    if not channels:
        print("no channel to render")
        return
    claim_device_and_threads(args)
    from artfinetune.render import render_channels

    with tempfile.TemporaryDirectory() as tmp:
        graph = args.graph
        if graph is None:
            from artfinetune.model.files import load_model
            from artfinetune.model.lucid_export import export_graph

            graph = export_graph(load_model(args.model), Path(tmp) / "model.pb")
        scores = []
        for start in range(0, len(channels), args.batch):  # a batch of channels per graph
            part = slice(start, start + args.batch)
            scores += render_channels(
                graph, channels[part], outs[part], size=args.size, steps=args.steps, lr=args.lr, seed=args.seed
            )
    for out, score in zip(outs, scores, strict=True):
        print(
            f"{out}: {score['channel']} mean activation {score['activation_start']:.3f} -> "
            f"{score['activation_end']:.3f}"
        )


def claim_device_and_threads(args) -> None:
    """Before TensorFlow starts: a device of its own for a local GPU job, and the job's thread budget."""
    from artfinetune.gpu import claim_device

    claim_device()
    _set_threads(getattr(args, "threads", 0))


def cmd_mosaics(args) -> None:
    from artfinetune.pair_views import pair_channels, write_pair_mosaics

    changed = None
    if args.changed_from:
        changed = {"overlap_csv": args.changed_from, "layers": args.layers, "per_layer": args.per_layer, "k": args.k}
    channels = pair_channels(list(args.channel or []), changed)
    written = write_pair_mosaics(args.topk_a, args.topk_b, args.store, args.image_size, args.k, channels, args.out_dir)
    print(f"{args.out_dir}: {len(written)} mosaics of {len(channels)} channels")


def cmd_gallery(args) -> None:
    from artfinetune.gallery import write_gallery
    from artfinetune.pair_views import gallery_entries, pair_channels

    spec = _json_arg(args.spec_json, "--spec-json")
    channels = pair_channels(spec["channels"], spec.get("changed"))
    named = set(spec["channels"])
    renders = {side: {c: spec[f"renders_{side}"][0 if c in named else 1] for c in channels} for side in ("a", "b")}
    entries = gallery_entries(channels, renders["a"], renders["b"], spec["mosaics"], spec["overlap_csv"], spec["k"])
    a, b = spec["pair"]
    print(write_gallery(entries, args.out, title=f"{a} -> {b}: {len(entries)} channels"))


def cmd_panel(args) -> None:
    from artfinetune.pair_views import panel_columns
    from artfinetune.panels import channel_panel

    spec = _json_arg(args.spec_json, "--spec-json")
    print(channel_panel(panel_columns(spec["columns"]), args.out_png, args.out_pdf, title=spec.get("title", "")))


def _set_threads(n: int) -> None:
    if n > 0:  # the job's thread budget (Snakemake's `threads`), before TensorFlow starts its pools
        import tensorflow as tf

        tf.config.threading.set_intra_op_parallelism_threads(n)
        tf.config.threading.set_inter_op_parallelism_threads(min(n, 2))


def cmd_train(args) -> None:
    claim_device_and_threads(args)  # before TensorFlow starts
    from artfinetune.train.loop import train_run

    if args.config:
        from artfinetune import paths
        from artfinetune.config import load_config

        config = load_config(args.config)
        if args.run not in config["runs"]:
            raise SystemExit(f"run {args.run!r} is not in {args.config}; choose from {list(config['runs'])}")
        spec = config["runs"][args.run]
        mode, store = config["modes"][spec["mode"]], paths.store_path(config, spec["dataset"])
        out, init = paths.run_dir(config, args.run, args.seed), paths.run_init_model(config, args.run, args.seed)
        image_size, mixed, deterministic = config["image_size"], config["mixed_precision"], config["deterministic"]
    else:
        if not (args.mode_json and args.store and args.out and args.image_size):
            raise SystemExit("give --config FILE, or all of --mode-json, --store, --out and --image-size")
        from artfinetune.config import complete_section

        mode = complete_section("mode", _json_arg(args.mode_json, "--mode-json"), "--mode-json")
        store, out, init = args.store, args.out, args.init or None
        image_size, mixed, deterministic = args.image_size, args.mixed_precision, args.deterministic
    result = train_run(
        store,
        out,
        mode,
        args.seed,
        image_size,
        init_model=init,
        mixed_precision=mixed,
        max_epochs=args.max_epochs,
        deterministic=deterministic,
    )
    if result:
        print(f"{out}: " + ", ".join(f"{k} {v:.2f}" for k, v in result["metrics"].items() if isinstance(v, float)))
    else:
        print(f"{out}: stopped after {args.max_epochs} epochs; run again to resume")


def cmd_ensemble(args) -> None:
    from artfinetune.train.evaluate import evaluate_ensemble

    result = evaluate_ensemble(args.predictions, args.out)
    print(f"{args.out}: " + ", ".join(f"{k} {v:.2f}" for k, v in result["metrics"].items() if isinstance(v, float)))


def cmd_table(args) -> None:
    from artfinetune.train.tables import write_table

    table = write_table(_json_arg(args.spec_json, "--spec-json"), args.out_csv, args.out_md, args.out_html)
    print(table.to_string(index=False))


def cmd_activations(args) -> None:
    claim_device_and_threads(args)  # before TensorFlow starts
    from artfinetune.activations import extract_splits
    from artfinetune.errors import UserError
    from artfinetune.model.layers import check_layer

    tensors = _json_arg(args.tensors, "--tensors") if args.tensors.lstrip().startswith("[") else args.tensors.split()
    for tensor in tensors:  # before any expensive work
        check_layer(tensor)
    if len(args.split) != len(args.out):
        raise UserError(f"--split names {len(args.split)} splits but --out {len(args.out)} files; give one file each")
    outs = dict(zip(args.split, args.out, strict=True))  # one model load and probe for every split
    for out in extract_splits(
        args.model, args.store, outs, tensors, args.image_size, args.name or args.model, args.batch_size
    ):
        print(out)


def cmd_topk(args) -> None:
    from artfinetune.comparisons import composition_table, topk_file

    out = topk_file(args.activations, args.k, args.out)
    if args.composition:
        composition_table(out, args.composition, args.k)
    print(out)


def cmd_cka(args) -> None:
    from artfinetune.comparisons import cka_table

    table = cka_table(args.activations_a, args.activations_b, args.out)
    print(table.pivot(index="layer", columns="metric", values="value").loc[table["layer"].unique()].to_string())


def cmd_l2(args) -> None:
    from artfinetune.comparisons import l2_table

    names = args.names or [args.model_a, args.model_b]
    table = l2_table(args.model_a, args.model_b, args.out, *names)
    means = table[table["layer"] == "all"]
    print(", ".join(f"{m} {v:.4f}" for m, v in zip(means["metric"], means["value"], strict=True)))


def cmd_overlap(args) -> None:
    from artfinetune.comparisons import overlap_table

    table = overlap_table(args.topk_a, args.topk_b, args.out, args.k)
    means = table.groupby(["layer", "metric", "k"], sort=False)["value"].mean().unstack(["metric", "k"])
    print(means.to_string(float_format=lambda v: f"{v:.3f}"))


def cmd_figure(args) -> None:
    from artfinetune import figures

    spec = _json_arg(args.spec_json, "--spec-json")
    if spec.get("kind") == "cka":
        out = figures.cka_figure(
            spec["pairs"],
            args.out_png,
            args.out_pdf,
            title=spec.get("title", ""),
            reference=spec.get("reference"),
            layers=spec.get("layers"),
        )
    elif spec.get("kind") == "topk":
        out = figures.topk_figure(
            spec["overlap_csv"],
            args.out_png,
            args.out_pdf,
            spec["overlap_k"],
            spec["entropy_k"],
            title=spec.get("title", ""),
            labels=tuple(spec.get("labels", ("before", "after"))),
            layers=spec.get("layers"),
        )
    else:
        from artfinetune.errors import UserError

        raise UserError(f"--spec-json kind is {spec.get('kind')!r}; a figure is of kind cka or topk")
    print(out)


def cmd_comparison_table(args) -> None:
    from artfinetune.comparison_tables import write_comparison_table

    table = write_comparison_table(_json_arg(args.spec_json, "--spec-json"), args.out_csv, args.out_md, args.out_html)
    print(table.to_string(index=False))


def cmd_software(args) -> None:
    from artfinetune.report import write_software

    print(write_software(args.out).read_text(), end="")


def cmd_findings(args) -> None:
    from pathlib import Path

    from artfinetune.errors import UserError
    from artfinetune.findings import findings_spec, write_findings

    if args.spec_json and args.config:
        raise UserError("give either the study config or --spec-json, not both")
    if args.spec_json:
        spec = _json_arg(args.spec_json, "--spec-json")
        if not isinstance(spec, dict):
            raise UserError("--spec-json must be a JSON object, as artfinetune.findings.findings_spec writes it")
    elif args.config:
        from artfinetune.config import load_config

        spec = findings_spec(load_config(args.config))
    else:
        raise UserError("give the study config (artfinetune findings CONFIG --out ...) or --spec-json")
    write_findings(spec, args.out, args.csv, args.html)
    print(Path(args.out).read_text(encoding="utf-8"), end="")


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
    p.add_argument("--workers", type=_at_least(0), default=0, help="processes (default: all cores)")
    p.set_defaults(func=cmd_demo_dataset)

    p = sub.add_parser("download", help="download a real dataset and list its images in source.csv")
    _add_dataset_args(p)
    p.add_argument("--out", required=True, help="output folder (gets download/, raw/ or images/, source.csv)")
    p.add_argument("--workers", type=_at_least(0), default=8, help="parallel image downloads (url_list datasets)")
    p.set_defaults(func=cmd_download)

    p = sub.add_parser("build-store", help="decode a dataset once into an HDF5 image store plus its manifest")
    _add_dataset_args(p)
    p.add_argument("--table", required=True, help="source table CSV (id, path, labels, split)")
    p.add_argument("--root", required=True, help="folder the table's image paths are relative to")
    p.add_argument("--store", required=True, help="output HDF5 store")
    p.add_argument("--manifest", required=True, help="output manifest CSV (source table + status)")
    p.add_argument("--workers", type=_at_least(0), default=0, help="decoding processes (default: all cores)")
    p.set_defaults(func=cmd_build_store)

    p = sub.add_parser("store-info", help="summarise image stores")
    p.add_argument("stores", nargs="+", help="HDF5 store files")
    p.set_defaults(func=cmd_store_info)

    p = sub.add_parser("fetch-lucid", help="download Lucid's InceptionV1.pb (or any file) with pooch")
    p.add_argument("--url", default="https://storage.googleapis.com/modelzoo/vision/other_models/InceptionV1.pb")
    p.add_argument("--sha256", default="", help="expected SHA-256 (empty: record the first download's in <out>.sha256)")
    p.add_argument("--out", required=True, help="where to save the file")
    p.set_defaults(func=cmd_fetch_lucid)

    p = sub.add_parser("import-lucid", help="import Lucid's InceptionV1.pb into a Keras model (.keras)")
    p.add_argument("pb", help="Lucid's InceptionV1.pb (a frozen GraphDef)")
    p.add_argument("--out", required=True, help="output model file (.keras)")
    p.add_argument("--input-size", type=_at_least(64), default=224, help="input size of the saved model (px, >= 64)")
    p.set_defaults(func=cmd_import_lucid)

    p = sub.add_parser("random-model", help="save a seeded, randomly initialised InceptionV1 (.keras)")
    p.add_argument("--out", required=True, help="output model file (.keras)")
    p.add_argument("--classes", type=_at_least(1), default=1008, help="number of classes of the head")
    p.add_argument("--task", choices=["single_label", "multi_label"], default="single_label")
    p.add_argument("--input-size", type=_at_least(64), default=224, help="input size (px, >= 64)")
    p.add_argument("--aux-heads", action="store_true", help="include the two auxiliary heads")
    p.add_argument("--seed", type=_at_least(0), default=0, help="random seed of the initialisation")
    p.set_defaults(func=cmd_random_model)

    p = sub.add_parser("export", help="freeze a model into a GraphDef with Lucid's tensor names (.pb + .json)")
    p.add_argument("model", help="model file (.keras)")
    p.add_argument("--out", required=True, help="output GraphDef (.pb)")
    p.set_defaults(func=cmd_export)

    p = sub.add_parser(
        "render",
        help="Lucid feature visualisation of channels (FFT + decorrelation, standard transforms, Adam)",
        description="Render channels such as mixed4d_3x3_pre_relu:52 of a model or an exported graph. All channels "
        "are optimised together, one image each; beside each PNG a JSON records the channel's mean activation "
        "on the starting image and on the result.",
    )
    src = p.add_mutually_exclusive_group(required=True)
    src.add_argument("--model", help="model file (.keras); exported on the fly")
    src.add_argument("--graph", help="GraphDef written by `artfinetune export`")
    p.add_argument("--channel", action="append", help="layer:index, repeatable")
    p.add_argument("--out", action="append", help="output PNG per channel (default: <layer>_<index>.png)")
    p.add_argument("--out-dir", help="write <layer>_<index>.png (and .json) of every channel into this folder")
    p.add_argument("--size", type=_at_least(16), default=224, help="image size (px)")
    p.add_argument("--steps", type=_at_least(1), default=2048, help="optimisation steps")
    p.add_argument("--lr", type=float, default=0.05, help="Adam learning rate")
    p.add_argument("--seed", type=_at_least(0), default=0, help="seed of every channel's starting image and transforms")
    p.add_argument("--batch", type=_at_least(1), default=8, help="channels optimised together in one graph")
    p.add_argument("--threads", type=_at_least(0), default=0, help="TensorFlow threads (default: all cores)")
    _add_changed_args(p)
    p.set_defaults(func=cmd_render)

    p = sub.add_parser("mosaics", help="both models' top-k mosaics of a pair's channels, common images framed")
    p.add_argument("topk_a", help="top-k file of the first model")
    p.add_argument("topk_b", help="top-k file of the second model")
    p.add_argument("--store", required=True, help="the dataset's image store")
    p.add_argument("--image-size", type=_at_least(64), required=True, help="the window the network saw (px)")
    p.add_argument("--channel", action="append", help="layer:index, repeatable")
    p.add_argument("--out-dir", required=True, help="folder of a_<channel>.png and b_<channel>.png (+ JSON)")
    _add_changed_args(p, k_required=True)
    p.set_defaults(func=cmd_mosaics)

    p = sub.add_parser("gallery", help="a static HTML page of a pair's rendered channels (sortable, filterable)")
    p.add_argument("--spec-json", required=True, help="pair, channels and folders as the gallery rule writes them")
    p.add_argument("--out", required=True, help="output folder (index.html and a copy of the images it shows)")
    p.set_defaults(func=cmd_gallery)

    p = sub.add_parser("panel", help="a render panel like the paper's figures 1 and 2 (PNG + PDF)")
    p.add_argument("--spec-json", required=True, help="the panel's columns as the panel rule writes them")
    p.add_argument("--out-png", required=True)
    p.add_argument("--out-pdf", required=True)
    p.set_defaults(func=cmd_panel)

    p = sub.add_parser(
        "train",
        help="train one run with one seed (resumes from its checkpoint)",
        description="Train a run: either by name from a study config (--config), or fully specified "
        "(--mode-json, --store, --out, --image-size, optional --init). Writes init.keras, model.keras, "
        "history.csv, eval.json and predictions.npz to the run's folder.",
    )
    p.add_argument("run", nargs="?", default="", help="run name (with --config)")
    p.add_argument(
        "--seed", type=_at_least(0), required=True, help="the run's seed: head init, batch order, augmentation"
    )
    p.add_argument("--config", help="study config file")
    p.add_argument("--mode-json", help="the mode's config section as JSON")
    p.add_argument("--store", help="the dataset's image store")
    p.add_argument("--out", help="output folder")
    p.add_argument("--init", help="model to start from (.keras); omitted: a random init from the seed")
    p.add_argument("--image-size", type=_at_least(64), help="network input size (px)")
    p.add_argument("--mixed-precision", action="store_true", help="mixed float16 training")
    p.add_argument(
        "--deterministic",
        action=argparse.BooleanOptionalAction,
        default=True,
        help="TensorFlow op determinism (same seed, same weights); --no-deterministic may be faster on GPUs",
    )
    p.add_argument("--threads", type=_at_least(0), default=0, help="TensorFlow threads (default: all cores)")
    p.add_argument("--max-epochs", type=_at_least(1), default=None, help="stop after this many epochs (resume later)")
    p.set_defaults(func=cmd_train)

    p = sub.add_parser("ensemble", help="average the test predictions of several runs and evaluate them")
    p.add_argument("predictions", nargs="+", help="predictions.npz of each member")
    p.add_argument("--out", required=True, help="output folder (eval.json, predictions.npz)")
    p.set_defaults(func=cmd_ensemble)

    p = sub.add_parser("table", help="assemble a result table (CSV + markdown) from evaluations")
    _add_table_args(p, "rows, seeds and per-run eval files as JSON")
    p.set_defaults(func=cmd_table)

    p = sub.add_parser(
        "activations",
        help="per-image, per-channel mean activations (after ReLU) of a model on a split, into HDF5",
        description="One forward pass over a split's images (centre crop) writing, for every tensor, the spatial "
        "mean of each channel after ReLU (float32), with the images' ids, store indices and labels.",
    )
    p.add_argument("--model", required=True, help="model file (.keras)")
    p.add_argument("--name", default="", help="the model's name in the study (imagenet, run/seed, run/seed/init)")
    p.add_argument("--store", required=True, help="the dataset's image store")
    p.add_argument("--split", required=True, nargs="+", choices=["train", "val", "test"], help="one or more splits")
    p.add_argument(
        "--tensors",
        required=True,
        help="tensors as a JSON list or space-separated: layers (mixed4a) and branches (mixed4d_3x3_pre_relu)",
    )
    p.add_argument("--image-size", type=_at_least(64), required=True, help="network input size (px)")
    p.add_argument("--batch-size", type=_at_least(1), default=64)
    p.add_argument("--threads", type=_at_least(0), default=0, help="TensorFlow threads (default: all cores)")
    p.add_argument("--out", required=True, nargs="+", help="output HDF5 file, one per split")
    p.set_defaults(func=cmd_activations)

    p = sub.add_parser("topk", help="top-k images of every channel (train split activations), and their classes")
    p.add_argument("activations", help="activations file (HDF5) of a model on the train split")
    p.add_argument("--k", type=_at_least(1), nargs="+", required=True, help="set sizes, e.g. 100 1000")
    p.add_argument("--out", required=True, help="output HDF5 file of top-k image rows")
    p.add_argument("--composition", help="also write each set's three most frequent classes to this CSV")
    p.set_defaults(func=cmd_topk)

    p = sub.add_parser("cka", help="linear and debiased CKA per tensor between two models' activations (CSV)")
    p.add_argument("activations_a", help="activations of the first model (test split)")
    p.add_argument("activations_b", help="activations of the second model, same images")
    p.add_argument("--out", required=True, help="output CSV")
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
    p.add_argument("--k", type=_at_least(1), nargs="+", required=True, help="set sizes, e.g. 100 1000")
    p.add_argument("--out", required=True, help="output CSV")
    p.set_defaults(func=cmd_overlap)

    p = sub.add_parser("figure", help="draw one of the paper's computed figures (PNG + PDF) from metric tables")
    p.add_argument("--spec-json", required=True, help="the figure's spec (kind cka or topk) as the rule writes it")
    p.add_argument("--out-png", required=True)
    p.add_argument("--out-pdf", required=True)
    p.set_defaults(func=cmd_figure)

    p = sub.add_parser("comparison-table", help="mean CKA / mean l2 between model pairs (tables 2 and 4)")
    _add_table_args(p, "rows, pairs and metric files as JSON")
    p.set_defaults(func=cmd_comparison_table)

    p = sub.add_parser("software", help="record the versions of Python and the packages the numbers depend on")
    p.add_argument("--out", required=True, help="output text file, one 'name version' line each")
    p.set_defaults(func=cmd_software)

    p = sub.add_parser(
        "findings",
        help="judge the paper's claims on a study's outputs (holds / does not hold / cannot be judged)",
        description="Check the paper's claims (CKA, top-k overlap and entropy fall with depth; fine-tuning moves a "
        "network less than training from scratch; fine-tuning beats off-the-shelf; double beats direct "
        "fine-tuning) on the metric files and result tables of a study, as its config's findings section names "
        "them. A missing file makes its claim 'cannot be judged', not an error.",
    )
    p.add_argument("config", nargs="?", help="study config file (its findings section)")
    p.add_argument("--spec-json", help="instead of the config: the findings spec as JSON (artfinetune.findings)")
    p.add_argument("--out", required=True, help="output markdown, e.g. results/findings.md")
    p.add_argument("--csv", help="also a CSV: id, verdict, claim, statement")
    p.add_argument("--html", help="also the report's HTML page of the findings")
    p.set_defaults(func=cmd_findings)

    p = sub.add_parser("summary", help="list a study's outputs and where they are")
    p.add_argument("config", help="study config file")
    p.set_defaults(func=cmd_summary)

    from artfinetune.config_reference import command as cmd_config_reference

    p = sub.add_parser("config-reference", help="the config reference in Markdown, generated from the schema")
    p.add_argument("--readme", help="rewrite this file's section between the config-reference markers instead")
    p.set_defaults(func=cmd_config_reference)
    return parser


def main(argv: list[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    setup_logging(args.verbose)
    from artfinetune.errors import UserError

    try:
        args.func(args)
    except (UserError, FileNotFoundError) as err:
        if args.verbose:
            raise
        log.error("%s", err)
        print(f"artfinetune {args.command}: {err}", file=sys.stderr)
        return 2
    return 0


if __name__ == "__main__":
    sys.exit(main())
