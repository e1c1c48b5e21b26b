"""Commands of the render rules (``workflow/rules/render.smk``): renders, mosaics, galleries.

Each command parses its arguments and calls one stage function; the rules call these.
"""

from __future__ import annotations

from artfinetune.cli.args import add_changed_args, at_least, json_arg


def cmd_render(args) -> None:
    from artfinetune.render.renders import render_model_channels

    rendered = render_model_channels(
        args.channel or [],
        model=args.model,
        graph=args.graph,
        outs=args.out,
        out_dir=args.out_dir,
        size=args.size,
        steps=args.steps,
        lr=args.lr,
        seed=args.seed,
        batch=args.batch,
        optimise_graph=args.optimise_graph,
        threads=args.threads,
        changed_from=args.changed_from,
        layers=args.layers,
        per_layer=args.per_layer,
        k=args.k,
    )
    if not rendered:
        print("no channel to render")
    for out, score in rendered:
        print(
            f"{out}: {score['channel']} mean activation {score['activation_start']:.3f} -> "
            f"{score['activation_end']:.3f}"
        )


def cmd_mosaics(args) -> None:
    from artfinetune.render.mosaics import write_pair_mosaics

    channels, written = write_pair_mosaics(
        args.topk_a, args.topk_b, args.store, args.image_size, args.k, args.channel or [], args.out_dir,
        changed_from=args.changed_from, layers=args.layers, per_layer=args.per_layer, images=args.images,
    )  # fmt: skip
    print(f"{args.out_dir}: {len(written)} mosaics of {len(channels)} channels")


def cmd_gallery(args) -> None:
    from artfinetune.render.gallery import write_pair_gallery

    print(write_pair_gallery(json_arg(args.spec_json, "--spec-json"), args.out))


def cmd_render_change(args) -> None:
    from artfinetune.render.change import render_change_table

    table = render_change_table(json_arg(args.spec_json, "--spec-json"), args.out)
    sampled = int(table["sampled"].sum())
    print(f"{args.out}: render change of {len(table)} channels ({sampled} of the random sample)")


def add_commands(sub) -> None:
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
    p.add_argument("--size", type=at_least(16), default=224, help="image size (px)")
    p.add_argument("--steps", type=at_least(1), default=2048, help="optimisation steps")
    p.add_argument("--lr", type=float, default=0.05, help="Adam learning rate")
    p.add_argument("--seed", type=at_least(0), default=0, help="seed of every channel's starting image and transforms")
    p.add_argument("--batch", type=at_least(1), default=8, help="channels optimised together in one graph")
    p.add_argument(
        "--no-graph-optimiser",
        dest="optimise_graph",
        action="store_false",
        help="skip TensorFlow's graph optimiser: its one-time cost (about 1 s per channel on a CPU) exceeds what it "
        "saves over a few dozen steps",
    )
    p.add_argument("--threads", type=at_least(0), default=0, help="TensorFlow threads (default: all cores)")
    add_changed_args(p)
    p.set_defaults(func=cmd_render)

    p = sub.add_parser("mosaics", help="both models' top-k mosaics of a pair's channels, common images framed")
    p.add_argument("topk_a", help="top-k file of the first model")
    p.add_argument("topk_b", help="top-k file of the second model")
    p.add_argument("--store", required=True, help="the dataset's image store")
    p.add_argument("--image-size", type=at_least(64), required=True, help="the window the network saw (px)")
    p.add_argument("--channel", action="append", help="layer:index, repeatable")
    p.add_argument("--out-dir", required=True, help="folder of a_<channel>.png and b_<channel>.png (+ JSON)")
    p.add_argument(
        "--images", action="store_true", help="also write every image shown on its own, images/<store index>.jpg"
    )
    add_changed_args(p, k_required=True)
    p.set_defaults(func=cmd_mosaics)

    p = sub.add_parser(
        "render-change", help="a gallery pair's channels with their top-k overlap and render-change score (CSV)"
    )
    p.add_argument("--spec-json", required=True, help="the gallery's spec, as the render_change rule writes it")
    p.add_argument("--out", required=True, help="output CSV: layer, channel, label, sampled, overlap, render_change")
    p.set_defaults(func=cmd_render_change)

    p = sub.add_parser("gallery", help="a static HTML page of a pair's rendered channels (sortable, filterable)")
    p.add_argument("--spec-json", required=True, help="pair, channels and folders as the gallery rule writes them")
    p.add_argument("--out", required=True, help="output folder (index.html and a copy of the images it shows)")
    p.set_defaults(func=cmd_gallery)
