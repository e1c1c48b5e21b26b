"""The command of the activations rule (``workflow/rules/activations.smk``).

Each command parses its arguments and calls one stage function; the rules call these.
"""

from __future__ import annotations

from artfinetune.cli.args import add_reader_workers_arg, at_least, json_arg, reader_workers


def cmd_activations(args) -> None:
    from artfinetune.activations.extract import extract_job

    tensors = json_arg(args.tensors, "--tensors") if args.tensors.lstrip().startswith("[") else args.tensors.split()
    name = args.name or args.model
    for out in extract_job(
        args.model,
        args.store,
        args.split,
        args.out,
        tensors,
        args.image_size,
        name,
        args.batch_size,
        args.threads,
        reader_workers(args),
    ):
        print(out)


def add_commands(sub) -> None:
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
    p.add_argument("--image-size", type=at_least(64), required=True, help="network input size (px)")
    p.add_argument("--batch-size", type=at_least(1), default=64)
    p.add_argument("--threads", type=at_least(0), default=0, help="TensorFlow threads (default: all cores)")
    add_reader_workers_arg(p)
    p.add_argument("--out", required=True, nargs="+", help="output HDF5 file, one per split")
    p.set_defaults(func=cmd_activations)
