"""A study's status at a glance (``artfinetune summary``, the end of ``make demo``): what is built, where, and the
tables and findings themselves."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

from artfinetune.data.store import read_store_info
from artfinetune.study import paths
from artfinetune.study.names import ARCHITECTURES_OUTPUT, analysis_pairs, run_seeds


def study_summary(config: dict, origin: str) -> Iterator[str]:
    """Every output kind of a study, a line each as it is checked: built or not, where; the tables and findings
    in full."""
    results = Path(config["results"])
    yield f"{origin}: outputs under {results.resolve()}"
    for name in config["datasets"]:
        store = Path(paths.store_path(config, name))
        if store.exists():
            info = read_store_info(store)
            counts = ", ".join(f"{k} {v}" for k, v in info["split_counts"].items())
            yield f"  store {name}: {store} ({info['n']} images: {counts}; left out {info['n_failed']})"
        else:
            yield f"  store {name}: not built yet ({store})"
    for init in config["init"]:
        model = Path(paths.init_dir(config, init)) / "model.keras"
        yield f"  init {init}: {model}" + ("" if model.exists() else " (not built yet)")
    models = [
        Path(paths.run_dir(config, r, s)) for r in [*config["runs"], *config["ensembles"]] for s in run_seeds(config, r)
    ]
    done = sum((m / "eval.json").exists() for m in models)
    yield f"  runs: {done} of {len(models)} trained and evaluated, under {results / 'models'}"
    pairs = analysis_pairs(config)
    measured = sum(Path(paths.pair_files(config, p)["overlap"]).exists() for p in pairs)
    yield f"  model pairs: {measured} of {len(pairs)} measured, under {results / 'comparisons'}"
    for figure in config["figures"]:
        png = Path(paths.figure_path(config, figure))
        yield f"  figure {figure}: {png}" + ("" if png.exists() else " (not built yet)")
    for table in [*config["tables"], *config["comparison_tables"], *config["mode_tables"]]:
        md = Path(paths.table_path(config, table, "md"))
        if md.exists():
            yield f"  table {table}: {md}\n"
            yield md.read_text()
        else:
            yield f"  table {table}: not built yet ({md})"
    if config.get("architectures"):
        png = Path(paths.figure_path(config, ARCHITECTURES_OUTPUT))
        yield f"  figure {ARCHITECTURES_OUTPUT}: {png}" + ("" if png.exists() else " (not built yet)")
        md = Path(paths.table_path(config, ARCHITECTURES_OUTPUT, "md"))
        yield f"  verdicts per architecture: {md}" + ("" if md.exists() else " (not judged yet)")
    findings = Path(paths.findings_path(config))
    if findings.exists():
        yield f"  findings: {findings}\n"
        yield findings.read_text(encoding="utf-8")
    else:
        yield f"  findings: not judged yet ({findings})"
