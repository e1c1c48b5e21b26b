"""The study's own commands (no rule: by hand, by ``make docs``, ``make preflight`` and ``make gpu-check``):
check a config, write the config reference, check a machine before a long run, measure a node for a study.

Each command parses its arguments and calls one function of the study package.
"""

from __future__ import annotations


def cmd_check_config(args) -> None:
    from artfinetune.study.config import config_overview, load_config

    print(config_overview(load_config(args.config), args.config, show=args.show))


def cmd_config_reference(args) -> None:
    from artfinetune.study.reference import reference_command

    print(reference_command(args.readme), end="")


def cmd_preflight(args) -> None:
    from artfinetune.study.preflight import preflight

    report = preflight(args.config, slurm=args.slurm, timeout=args.timeout)
    print(report.text())
    if report.problems:
        raise SystemExit(1)


def cmd_gpu_check(args) -> None:
    from artfinetune.gpu_check import gpu_check

    gpu_check(args.config, args.mode)


def add_commands(sub) -> None:
    p = sub.add_parser("check-config", help="validate a study config and print its size")
    p.add_argument("config", help="config file, e.g. config.yaml or resources/demo/config.yaml")
    p.add_argument("--show", action="store_true", help="print the config with defaults filled in")
    p.set_defaults(func=cmd_check_config)

    p = sub.add_parser("config-reference", help="the config reference in Markdown, generated from the schema")
    p.add_argument("--readme", help="rewrite this file's section between the config-reference markers instead")
    p.set_defaults(func=cmd_config_reference)

    p = sub.add_parser(
        "preflight", help="before a long run: sources reachable, disk needed vs free, GPUs visible, SLURM answering"
    )
    p.add_argument("config", help="config file, e.g. config.yaml or resources/demo/config.yaml")
    p.add_argument("--slurm", action="store_true", help="the run will use the SLURM profile: SLURM must answer")
    p.add_argument("--timeout", type=float, default=10.0, help="seconds to wait for each mirror and for sinfo")
    p.set_defaults(func=cmd_preflight)

    p = sub.add_parser(
        "gpu-check",
        help="measure this node for a study: training, the reader, activations, renders; does the reader keep up?",
        description="Side by side in one run: the training step (mixed precision on a GPU) fed from memory and by "
        "the store reader with the config's reader_workers, the reader alone, activation extraction and Lucid "
        "render steps, on generated data and random weights; then whether the reader keeps up with training. On a "
        "GPU at the config's sizes, on a CPU at small ones (and it says so).",
    )
    p.add_argument("config", nargs="?", default="config.yaml", help="study config (default: config.yaml)")
    p.add_argument("--mode", help="the mode whose training step is timed (default: the first run's)")
    p.set_defaults(func=cmd_gpu_check)
