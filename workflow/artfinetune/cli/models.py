"""Commands of the models rules (``workflow/rules/models.smk``): ImageNet weights (Lucid's InceptionV1, Keras
applications' ResNet-50 and VGG16), their import, graph export.

Each command parses its arguments and calls one stage function; the rules call these.
"""

from __future__ import annotations

from artfinetune.cli.args import at_least
from artfinetune.model.architectures import ARCHITECTURES


def cmd_fetch_lucid(args) -> None:
    from artfinetune.model.lucid_weights import fetch_lucid

    print(fetch_lucid(args.url, args.sha256 or None, args.out))


def cmd_import_lucid(args) -> None:
    from artfinetune.model.lucid_import import import_lucid

    print(import_lucid(args.pb, args.out, input_size=args.input_size))


def cmd_fetch_keras_weights(args) -> None:
    from artfinetune.model.keras_apps import fetch_keras_weights

    print(fetch_keras_weights(args.architecture, args.url, args.sha256 or None, args.out))


def cmd_import_keras(args) -> None:
    from artfinetune.model.keras_apps import import_keras_weights

    print(import_keras_weights(args.architecture, args.weights, args.out, input_size=args.input_size))


def cmd_random_model(args) -> None:
    from artfinetune.model.files import save_random_model

    print(save_random_model(args.out, args.classes, args.task, args.input_size, args.aux_heads, args.seed))


def cmd_export(args) -> None:
    from artfinetune.model.lucid_export import export_model_file

    print(export_model_file(args.model, args.out))


def cmd_receptive_fields(args) -> None:
    from artfinetune.model.receptive import markdown_table

    print(markdown_table(args.image_size, args.architecture), end="")


def _download_arguments(p, nargs: str, spec: str, out_help: str) -> None:
    """A weights download's options: the config's URLs (tried before the spec's mirrors), a checksum, the file."""
    p.add_argument(
        "--url",
        nargs=nargs,
        default=[],
        help=f"URLs tried first, in order (the config's); then the mirrors of resources/models/{spec}",
    )
    p.add_argument("--sha256", default="", help="expected SHA-256 (empty: record the first download's in <out>.sha256)")
    p.add_argument("--out", required=True, help=out_help)


def add_commands(sub) -> None:
    p = sub.add_parser("fetch-lucid", help="download Lucid's InceptionV1.pb from the first mirror that serves it")
    _download_arguments(p, "+", "inception_v1.yaml", "where to save the file")
    p.set_defaults(func=cmd_fetch_lucid)

    p = sub.add_parser("import-lucid", help="import Lucid's InceptionV1.pb into a Keras model (.keras)")
    p.add_argument("pb", help="Lucid's InceptionV1.pb (a frozen GraphDef)")
    p.add_argument("--out", required=True, help="output model file (.keras)")
    p.add_argument("--input-size", type=at_least(64), default=224, help="input size of the saved model (px, >= 64)")
    p.set_defaults(func=cmd_import_lucid)

    keras_archs = sorted(n for n, a in ARCHITECTURES.items() if a.init_kind == "keras")
    p = sub.add_parser(
        "fetch-keras-weights",
        help="download a Keras application's ImageNet weights from the first mirror that serves them",
    )
    p.add_argument("--architecture", choices=keras_archs, required=True)
    _download_arguments(p, "*", "<architecture>.yaml", "where to save the file (.h5)")
    p.set_defaults(func=cmd_fetch_keras_weights)

    p = sub.add_parser("import-keras", help="build a Keras application with its ImageNet trunk weights (.keras)")
    p.add_argument("weights", help="the application's notop weights file (.h5, Keras 2 layout)")
    p.add_argument("--architecture", choices=keras_archs, required=True)
    p.add_argument("--out", required=True, help="output model file (.keras)")
    p.add_argument("--input-size", type=at_least(32), default=224, help="input size of the saved model (px, >= 32)")
    p.set_defaults(func=cmd_import_keras)

    p = sub.add_parser("random-model", help="save a seeded, randomly initialised InceptionV1 (.keras)")
    p.add_argument("--out", required=True, help="output model file (.keras)")
    p.add_argument("--classes", type=at_least(1), default=1008, help="number of classes of the head")
    p.add_argument("--task", choices=["single_label", "multi_label"], default="single_label")
    p.add_argument("--input-size", type=at_least(64), default=224, help="input size (px, >= 64)")
    p.add_argument("--aux-heads", action="store_true", help="include the two auxiliary heads")
    p.add_argument("--seed", type=at_least(0), default=0, help="random seed of the initialisation")
    p.set_defaults(func=cmd_random_model)

    p = sub.add_parser("export", help="freeze a model into a GraphDef with Lucid's tensor names (.pb + .json)")
    p.add_argument("model", help="model file (.keras)")
    p.add_argument("--out", required=True, help="output GraphDef (.pb)")
    p.set_defaults(func=cmd_export)

    p = sub.add_parser(
        "receptive-fields", help="print each study layer's receptive field (size, stride, offset) at an image size"
    )
    p.add_argument("--image-size", type=at_least(64), default=224, help="network input side in px (default 224)")
    p.add_argument("--architecture", choices=sorted(ARCHITECTURES), default="inception_v1")
    p.set_defaults(func=cmd_receptive_fields)
