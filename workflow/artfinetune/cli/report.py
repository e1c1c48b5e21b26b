"""Commands of the report rules (``workflow/rules/report.smk``): software record, findings; and a study's summary.

Each command parses its arguments and calls one stage function; the rules call these.
"""

from __future__ import annotations

from artfinetune.cli.args import json_arg
from artfinetune.errors import UserError


def cmd_software(args) -> None:
    from artfinetune.report.software import write_software

    print(write_software(args.out).read_text(), end="")


def cmd_findings(args) -> None:
    from pathlib import Path

    from artfinetune.report.findings import findings_spec, write_findings

    if args.spec_json and args.config:
        raise UserError("give either the study config or --spec-json, not both")
    if args.spec_json:
        spec = json_arg(args.spec_json, "--spec-json")
        if not isinstance(spec, dict):
            raise UserError("--spec-json must be a JSON object, as artfinetune.report.findings.findings_spec writes it")
    elif args.config:
        from artfinetune.study.config import load_config

        spec = findings_spec(load_config(args.config))
    else:
        raise UserError("give the study config (artfinetune findings CONFIG --out ...) or --spec-json")
    write_findings(spec, args.out, args.csv, args.html)
    print(Path(args.out).read_text(encoding="utf-8"), end="")


def cmd_architectures(args) -> None:
    from artfinetune.report.architectures import write_architectures

    spec = json_arg(args.spec_json, "--spec-json")
    if not isinstance(spec, dict) or "findings" not in spec:
        raise UserError(
            "--spec-json must be a JSON object, as artfinetune.report.architectures.architectures_spec writes it"
        )
    table = write_architectures(spec, args.out_png, args.out_pdf, args.out_csv, args.out_md)
    for arch, verdicts in table.groupby("architecture", sort=False)["verdict"]:
        print(f"{arch}: {(verdicts == 'holds').sum()} of {len(verdicts)} findings hold")


def cmd_summary(args) -> None:
    from artfinetune.report.summary import study_summary
    from artfinetune.study.config import load_config

    for line in study_summary(load_config(args.config), args.config):
        print(line)


def add_commands(sub) -> None:
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
    p.add_argument("--spec-json", help="instead of the config: the findings spec as JSON (artfinetune.report.findings)")
    p.add_argument("--out", required=True, help="output markdown, e.g. results/findings.md")
    p.add_argument("--csv", help="also a CSV: id, verdict, claim, statement")
    p.add_argument("--html", help="also the report's HTML page of the findings")
    p.set_defaults(func=cmd_findings)

    p = sub.add_parser(
        "architectures",
        help="the findings on each architecture side by side: a figure against relative depth and a verdict table",
    )
    p.add_argument("--spec-json", required=True, help="the spec as JSON (artfinetune.report.architectures)")
    p.add_argument("--out-png", required=True, help="the figure, e.g. results/figures/architectures.png")
    p.add_argument("--out-pdf", required=True, help="the figure as PDF")
    p.add_argument("--out-csv", required=True, help="the verdicts: architecture, id, verdict, claim, statement")
    p.add_argument("--out-md", required=True, help="the verdicts as a finding x architecture table, with statements")
    p.set_defaults(func=cmd_architectures)

    p = sub.add_parser("summary", help="list a study's outputs and where they are")
    p.add_argument("config", help="study config file")
    p.set_defaults(func=cmd_summary)
