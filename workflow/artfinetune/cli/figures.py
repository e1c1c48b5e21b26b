"""Commands of the figures rules (``workflow/rules/figures.smk``): tables 1-5, computed figures, panels.

Each command parses its arguments and calls one stage function; the rules call these.
"""

from __future__ import annotations

from artfinetune.cli.args import add_table_args, json_arg


def cmd_table(args) -> None:
    from artfinetune.figures.tables import write_table

    table = write_table(json_arg(args.spec_json, "--spec-json"), args.out_csv, args.out_md, args.out_html)
    print(table.to_string(index=False))


def cmd_comparison_table(args) -> None:
    from artfinetune.figures.comparison_tables import write_comparison_table

    table = write_comparison_table(json_arg(args.spec_json, "--spec-json"), args.out_csv, args.out_md, args.out_html)
    print(table.to_string(index=False))


def cmd_mode_table(args) -> None:
    from artfinetune.figures.mode_tables import write_mode_table

    table = write_mode_table(json_arg(args.spec_json, "--spec-json"), args.out_csv, args.out_md, args.out_html)
    print(table.to_string(index=False))


def cmd_figure(args) -> None:
    from artfinetune.figures import draw_figure

    print(draw_figure(json_arg(args.spec_json, "--spec-json"), args.out_png, args.out_pdf))


def cmd_panel(args) -> None:
    from artfinetune.figures.panels import draw_panel

    print(draw_panel(json_arg(args.spec_json, "--spec-json"), args.out_png, args.out_pdf))


def add_commands(sub) -> None:
    p = sub.add_parser("table", help="assemble a result table (CSV + markdown) from evaluations")
    add_table_args(p, "rows, seeds and per-run eval files as JSON")
    p.set_defaults(func=cmd_table)

    p = sub.add_parser("comparison-table", help="mean CKA / mean l2 between model pairs (tables 2 and 4)")
    add_table_args(p, "rows, pairs and metric files as JSON")
    p.set_defaults(func=cmd_comparison_table)

    p = sub.add_parser("mode-table", help="the training modes' hyperparameters beside the paper's (table 5)")
    add_table_args(p, "rows (mode, its completed settings, the paper's values) as JSON")
    p.set_defaults(func=cmd_mode_table)

    p = sub.add_parser("figure", help="draw one of the paper's computed figures (PNG + PDF) from metric tables")
    p.add_argument("--spec-json", required=True, help="the figure's spec (kind cka or topk) as the rule writes it")
    p.add_argument("--out-png", required=True)
    p.add_argument("--out-pdf", required=True)
    p.set_defaults(func=cmd_figure)

    p = sub.add_parser("panel", help="a render panel like the paper's figures 1 and 2 (PNG + PDF)")
    p.add_argument("--spec-json", required=True, help="the panel's columns as the panel rule writes them")
    p.add_argument("--out-png", required=True)
    p.add_argument("--out-pdf", required=True)
    p.set_defaults(func=cmd_panel)
