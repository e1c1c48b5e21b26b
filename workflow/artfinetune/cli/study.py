"""The study's own commands (no rule: by hand and by ``make docs``): check a config, write the config reference.

Each command parses its arguments and calls one function of the study package.
"""

from __future__ import annotations


def cmd_check_config(args) -> None:
    from artfinetune.study.config import config_overview, load_config

    print(config_overview(load_config(args.config), args.config, show=args.show))


def cmd_config_reference(args) -> None:
    from artfinetune.study.reference import reference_command

    print(reference_command(args.readme), end="")


def add_commands(sub) -> None:
    p = sub.add_parser("check-config", help="validate a study config and print its size")
    p.add_argument("config", help="config file, e.g. config.yaml or resources/demo/config.yaml")
    p.add_argument("--show", action="store_true", help="print the config with defaults filled in")
    p.set_defaults(func=cmd_check_config)

    p = sub.add_parser("config-reference", help="the config reference in Markdown, generated from the schema")
    p.add_argument("--readme", help="rewrite this file's section between the config-reference markers instead")
    p.set_defaults(func=cmd_config_reference)
