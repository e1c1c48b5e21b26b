"""The ``artfinetune`` command: one subcommand per stage, each a thin wrapper over one package function.

Snakemake rules call these; so can a user, without Snakemake. The commands live in one module per rules file
(``cli/data.py`` for ``workflow/rules/data.smk``, ...), each registering its subcommands with ``add_commands``.
A dataset is named either by ``--config FILE`` (the study config, validated) or by ``--dataset-json`` (the
dataset's completed config section, as the rules pass it).
"""

from __future__ import annotations

import argparse
import logging
import sys

from artfinetune.cli import activations, data, figures, metrics, models, render, report, study, train
from artfinetune.io import setup_logging

log = logging.getLogger("artfinetune")
# In pipeline order: the order of `artfinetune --help`.
MODULES = (study, data, models, train, activations, metrics, render, figures, report)


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="artfinetune",
        description="Stages of the artfinetune study (each also runs as a Snakemake rule).",
    )
    parser.add_argument("-v", "--verbose", action="store_true", help="debug logging")
    sub = parser.add_subparsers(dest="command", required=True, metavar="COMMAND")
    for module in MODULES:
        module.add_commands(sub)
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
