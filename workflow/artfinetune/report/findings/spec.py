"""What the findings read, from a config: every claim's pair, files, k and table rows, as plain values (the
findings rule passes this spec as JSON, so it reruns when a claim's inputs change)."""

from __future__ import annotations

from artfinetune.model.architectures import DEFAULT as DEFAULT_ARCHITECTURE
from artfinetune.model.layers import network_order
from artfinetune.report.findings.trend import DEFAULT_MIN_DROP
from artfinetune.report.findings.verdicts import TITLE
from artfinetune.study.names import (
    analysis_layers,
    dataset_of,
    findings_pairs,
    frozen_layers,
    metrics_of,
    pair_architecture,
    seed_variants,
)
from artfinetune.study.paths import pair_files, render_change_path, table_path

DEFAULT_MIN_CHANNELS = 20


def _pair_entry(config: dict, pair, variants: bool = True) -> dict:
    files = pair_files(config, pair)
    frozen = {model: frozen_layers(config, model) for model in pair}
    entry = {
        "pair": list(pair),
        "cka": files["cka"],
        "l2": files["l2"],
        "frozen": {model: kept for model, kept in frozen.items() if kept},
    }
    if variants:  # the same comparison with the models' other seeds: the spread across trainings
        entry["variants"] = [_pair_entry(config, v, False) for v in seed_variants(config, pair)]
    return entry


def _row_comparisons(config: dict, entries: list[dict], better: str, worse: str) -> list[dict]:
    out = []
    for entry in entries:
        rows = {row["label"]: row for row in config["tables"][entry["table"]]["rows"]}
        main = {}
        for label in (entry[better], entry[worse]):
            for run in rows[label]["runs"]:
                main.setdefault(dataset_of(config, run), metrics_of(config, run)[0])
        out.append(
            {
                "table": entry["table"],
                "csv": table_path(config, entry["table"]),
                "better": entry[better],
                "worse": entry[worse],
                "main_metrics": main,
            }
        )
    return out


def findings_spec(config: dict, arch_name: str | None = None) -> dict:
    """Everything :func:`evaluate_findings` needs, as plain values and file paths, from a completed config: for its
    ``findings`` section, or with ``arch_name`` for that architecture's section of ``architectures.findings`` (then
    ``layers`` are that architecture's analysis layers and ``architecture`` names it).

    Keys: ``title``, ``layers`` (the config's, in network order), ``min_drop``; and, when the config has them,
    ``depth`` (``pair``, ``cka`` and ``overlap`` files, ``overlap_k``, ``entropy_k``), ``init_distance``
    (``fine_tuned`` and ``from_scratch``: lists of ``pair`` with its ``cka`` and ``l2`` files and ``frozen``: model ->
    the study layers it kept frozen from its init, for the models that kept some), ``fine_tuning`` and
    ``double_fine_tuning`` (lists of ``table``, its ``csv``, the row labels ``better`` (fine-tuned, double) and
    ``worse`` (off-the-shelf, direct), and ``main_metrics``: dataset -> the metric compared). A finding whose
    config key is absent is absent from the spec (it cannot be judged, naming the key).
    """
    if arch_name is None:  # the study's own findings: of the architecture of the pairs they name
        section = config.get("findings") or {}
        pairs = [pair for _, pair in findings_pairs(section)]
        own = pair_architecture(config, pairs[0]) if pairs else DEFAULT_ARCHITECTURE
        layers = network_order(analysis_layers(config, own))
    else:
        section, own, layers = (
            config["architectures"]["findings"][arch_name],
            arch_name,
            analysis_layers(config, arch_name),
        )
    spec = {"title": TITLE, "layers": layers, "min_drop": section.get("min_drop", DEFAULT_MIN_DROP)}
    if own != DEFAULT_ARCHITECTURE:  # (an InceptionV1's spec, a rule param, stays as before other architectures)
        spec["architecture"] = own
    if arch_name is not None:
        spec["architecture"] = arch_name
        spec["section"] = f"architectures.findings.{arch_name}"
    if "depth" in section:
        depth = section["depth"]
        files = pair_files(config, depth["pair"])
        spec["depth"] = {
            "pair": list(depth["pair"]),
            "cka": files["cka"],
            "overlap": files["overlap"],
            "overlap_k": depth["overlap_k"],
            "entropy_k": depth["entropy_k"],
            "variants": [
                {"pair": list(v), "cka": pair_files(config, v)["cka"], "overlap": pair_files(config, v)["overlap"]}
                for v in seed_variants(config, depth["pair"])
            ],
        }
    if "init_distance" in section:
        spec["init_distance"] = {
            group: [_pair_entry(config, pair) for pair in section["init_distance"][group]]
            for group in ("fine_tuned", "from_scratch")
        }
    if "fine_tuning" in section:
        spec["fine_tuning"] = _row_comparisons(config, section["fine_tuning"], "fine_tuned", "off_the_shelf")
    if "double_fine_tuning" in section:
        spec["double_fine_tuning"] = _row_comparisons(config, section["double_fine_tuning"], "double", "direct")
    if "render_change" in section:
        pair = section["render_change"]["pair"]
        spec["render_change"] = {
            "pair": list(pair),
            "csv": render_change_path(config, pair),
            "k": config["render"]["k"],
            "min_channels": section["render_change"].get("min_channels", DEFAULT_MIN_CHANNELS),
        }
    return spec


def findings_inputs(config: dict, arch_name: str | None = None) -> dict[str, list[str]]:
    """The files the findings read, by kind (cka, overlap, l2, tables): the findings rule's inputs (with
    ``arch_name``, those of that architecture's findings)."""
    spec = findings_spec(config, arch_name)
    files: dict[str, list[str]] = {"cka": [], "overlap": [], "l2": [], "tables": [], "render_change": []}
    if "depth" in spec:
        for entry in [spec["depth"], *spec["depth"]["variants"]]:
            files["cka"].append(entry["cka"])
            files["overlap"].append(entry["overlap"])
    for entry in [p for group in spec.get("init_distance", {}).values() for p in group]:
        for one in [entry, *entry.get("variants", [])]:
            files["cka"].append(one["cka"])
            files["l2"].append(one["l2"])
    for entry in [*spec.get("fine_tuning", []), *spec.get("double_fine_tuning", [])]:
        files["tables"].append(entry["csv"])
    if "render_change" in spec:
        files["render_change"].append(spec["render_change"]["csv"])
    return {kind: list(dict.fromkeys(found)) for kind, found in files.items()}
