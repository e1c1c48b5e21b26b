"""Findings: the paper's claims, checked on a study's own outputs.

Each finding has an id, the claim (one sentence), a verdict and a short statement with the numbers behind it.
The verdicts:

- ``holds``: the study's numbers satisfy the claim as defined below;
- ``does not hold``: they contradict it (the statement says where);
- ``cannot be judged``: the config lacks the finding's key (the statement names the key to set), or a file, row
  or layer it needs is missing, or a value it needs is NaN, or fewer than 3 layers are left to judge a trend on.

"Falls" over per-layer values, in the order of the config's ``layers``: there are at least 3 values, the Spearman
rank correlation between the depth index and the value is at most -0.5, and the mean of the shallowest third
minus the mean of the deepest third is at least ``findings.min_drop`` (default 0.02); a third is ceil(n / 3)
values at each end. Both comparisons are inclusive, up to a rounding error of 1e-9. Constant values have no
rank correlation and do not fall.

The findings (``findings`` section of the config; the pair and k default as stated):

1. ``cka_depth``: the linear CKA per layer between the two models of ``findings.depth.pair`` falls (fig. 5).
2. ``overlap_depth``: the mean over channels of the top-k overlapping ratio at ``findings.depth.overlap_k``
   (default: the smallest ``topk``), per layer, falls (fig. 6a).
3. ``entropy_depth``: the mean over channels of the fine-tuned model's (the pair's second model's) class entropy
   at ``findings.depth.entropy_k`` (default: the largest ``topk``) falls over the layers from the middle of the
   network on: the second half of the config's layers, ``layers[len(layers) // 2:]`` (mixed4b ... mixed5b of the
   paper's 12). Channels with no positive image (NaN entropy) are left out of the mean. The first model's means
   are reported beside, not judged (fig. 6b).
4. ``init_distance_cka``: every fine-tuned pair of ``findings.init_distance.fine_tuned`` has a higher mean CKA
   (linear CKA averaged over the config's layers, as in table 4) than every from-scratch pair of
   ``findings.init_distance.from_scratch``: the lowest fine-tuned value exceeds the highest from-scratch one
   (table 2, fig. 5).
5. ``init_distance_l2``: every fine-tuned pair has a lower mean l2 (over the trunk's convolutions) than every
   from-scratch pair: the highest fine-tuned value is below the lowest from-scratch one (table 2).
6. ``fine_tuning_beats_off_the_shelf``: for each comparison of ``findings.fine_tuning`` and each dataset its two
   rows share in its result table, the fine-tuned row's mean over seeds of the dataset's main metric (top1 for a
   single-label dataset, mAP for a multi-label one) is strictly greater than the off-the-shelf row's (tables 1, 3).
7. ``double_beats_direct``: the same for the comparisons of ``findings.double_fine_tuning``: the double fine-tuned
   row against the directly fine-tuned row (table 3).

Findings 4 to 7 compare several values: one comparison that fails makes the finding ``does not hold`` (even if
others cannot be read, since a counterexample settles it); otherwise it ``holds`` only if every comparison
could be made, and ``cannot be judged`` if some could not (the statement names the missing file or row).
"""

from __future__ import annotations

import csv
import math
from collections.abc import Callable, Sequence
from dataclasses import asdict, dataclass
from pathlib import Path

import numpy as np
import pandas as pd

from artfinetune import paths
from artfinetune.comparison_tables import TIDY_COLUMNS, mean_cka, mean_l2, read_tidy
from artfinetune.errors import UserError
from artfinetune.io import atomic_path
from artfinetune.specs import pair_files

HOLDS, FAILS, UNJUDGED = "holds", "does not hold", "cannot be judged"
VERDICTS = (HOLDS, FAILS, UNJUDGED)
DEFAULT_MIN_DROP = 0.02
MAX_RHO = -0.5
MIN_VALUES = 3
TOLERANCE = 1e-9
TITLE = "Findings: the paper's claims checked on this study's outputs"
DEFINITIONS = (
    'Verdicts and the meaning of each claim ("falls": Spearman rho <= -0.5 between depth and value, and the '
    "shallowest third at least min_drop above the deepest third) are defined in the docstring of "
    "workflow/artfinetune/findings.py, quoted in the README; findings.csv gives each line's id."
)
CSV_COLUMNS = ("id", "verdict", "claim", "statement")


@dataclass(frozen=True)
class Finding:
    id: str
    claim: str
    verdict: str
    statement: str

    def markdown(self) -> str:
        return f"- **{self.verdict}** — {self.claim[:1].upper()}{self.claim[1:]}: {self.statement}"


class CannotJudge(Exception):
    """Raised while evaluating a finding: why it cannot be judged (a missing key, file, row or value)."""


# --- the "falls" definition ------------------------------------------------------------------------------------


@dataclass(frozen=True)
class Trend:
    """A sequence of per-layer values (shallow to deep), its Spearman rho against depth and its thirds."""

    values: tuple[float, ...]
    rho: float
    shallow: float
    deep: float
    min_drop: float

    @property
    def drop(self) -> float:
        return self.shallow - self.deep

    @property
    def falls(self) -> bool:
        return not math.isnan(self.rho) and self.rho <= MAX_RHO + TOLERANCE and self.drop >= self.min_drop - TOLERANCE

    def why_not(self) -> str:
        """Why the values do not fall ('' if they do)."""
        reasons = []
        if math.isnan(self.rho):
            reasons.append("the values are constant, so they have no rank correlation with depth")
        elif self.rho > MAX_RHO + TOLERANCE:
            reasons.append(f"Spearman rho {self.rho:.2f} is above {MAX_RHO}")
        if self.drop < self.min_drop - TOLERANCE:
            reasons.append(f"shallow third minus deep third is {self.drop:.3f}, below min_drop {self.min_drop:g}")
        return "; ".join(reasons)


def third(n: int) -> int:
    """How many values make the shallowest (and the deepest) third of ``n``: ceil(n / 3)."""
    return math.ceil(n / 3)


def trend(values: Sequence[float], min_drop: float = DEFAULT_MIN_DROP) -> Trend:
    """The trend of ``values`` (shallow to deep); a ValueError if fewer than 3 values or a NaN."""
    values = tuple(float(v) for v in values)
    if len(values) < MIN_VALUES:
        raise ValueError(f"{len(values)} value(s); a trend needs at least {MIN_VALUES}")
    if any(math.isnan(v) for v in values):
        raise ValueError("a value is NaN")
    if max(values) == min(values):
        rho = math.nan  # spearmanr would warn and return NaN
    else:
        from scipy.stats import spearmanr

        rho = float(spearmanr(np.arange(len(values)), values).statistic)
    m = third(len(values))
    return Trend(values, rho, float(np.mean(values[:m])), float(np.mean(values[-m:])), float(min_drop))


def falls(values: Sequence[float], min_drop: float = DEFAULT_MIN_DROP) -> bool:
    """Whether ``values`` (shallow to deep) fall with depth, as the module docstring defines it."""
    return trend(values, min_drop).falls


# --- the spec: what the findings read, from a config -------------------------------------------------------------


def _pair_entry(config: dict, pair) -> dict:
    files = pair_files(config, pair)
    return {"pair": list(pair), "cka": files["cka"], "l2": files["l2"]}


def _row_comparisons(config: dict, entries: list[dict], better: str, worse: str) -> list[dict]:
    from artfinetune.config import dataset_of, metrics_of

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
                "csv": paths.table_path(config, entry["table"]),
                "better": entry[better],
                "worse": entry[worse],
                "main_metrics": main,
            }
        )
    return out


def findings_spec(config: dict) -> dict:
    """Everything :func:`evaluate_findings` needs, as plain values and file paths, from a completed config.

    Keys: ``title``, ``layers`` (the config's, in network order), ``min_drop``; and, when the config has them,
    ``depth`` (``pair``, ``cka`` and ``overlap`` files, ``overlap_k``, ``entropy_k``), ``init_distance``
    (``fine_tuned`` and ``from_scratch``: lists of ``pair`` with its ``cka`` and ``l2`` files), ``fine_tuning`` and
    ``double_fine_tuning`` (lists of ``table``, its ``csv``, the row labels ``better`` (fine-tuned, double) and
    ``worse`` (off-the-shelf, direct), and ``main_metrics``: dataset -> the metric compared). A finding whose
    config key is absent is absent from the spec (it cannot be judged, naming the key).
    """
    section = config.get("findings") or {}
    spec = {
        "title": TITLE,
        "layers": list(config["layers"]),
        "min_drop": section.get("min_drop", DEFAULT_MIN_DROP),
    }
    if "depth" in section:
        depth = section["depth"]
        files = pair_files(config, depth["pair"])
        spec["depth"] = {
            "pair": list(depth["pair"]),
            "cka": files["cka"],
            "overlap": files["overlap"],
            "overlap_k": depth.get("overlap_k", min(config["topk"])),
            "entropy_k": depth.get("entropy_k", max(config["topk"])),
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
    return spec


def findings_inputs(config: dict) -> dict[str, list[str]]:
    """The files the findings read, by kind (cka, overlap, l2, tables): the findings rule's inputs."""
    spec = findings_spec(config)
    files: dict[str, list[str]] = {"cka": [], "overlap": [], "l2": [], "tables": []}
    if "depth" in spec:
        files["cka"].append(spec["depth"]["cka"])
        files["overlap"].append(spec["depth"]["overlap"])
    for entry in [p for group in spec.get("init_distance", {}).values() for p in group]:
        files["cka"].append(entry["cka"])
        files["l2"].append(entry["l2"])
    for entry in [*spec.get("fine_tuning", []), *spec.get("double_fine_tuning", [])]:
        files["tables"].append(entry["csv"])
    return {kind: list(dict.fromkeys(found)) for kind, found in files.items()}


# --- evaluation --------------------------------------------------------------------------------------------------


def _need_file(path: str) -> Path:
    if not Path(path).exists():
        raise CannotJudge(f"{path} does not exist; build it first (snakemake {path})")
    return Path(path)


def _need(spec: dict, key: str, example: str) -> dict | list:
    if key not in spec:
        raise CannotJudge(f"the config has no findings.{key}; set it to judge this claim (e.g. {example})")
    return spec[key]


def _per_layer(series: pd.Series, layers: Sequence[str], what: str) -> pd.Series:
    """``series`` (indexed by layer) in the order of ``layers``; CannotJudge names missing and NaN layers."""
    missing = [layer for layer in layers if layer not in series.index]
    if missing:
        raise CannotJudge(f"{what} has no value for layer(s) {', '.join(missing)}")
    series = series.reindex(list(layers))
    nan = [layer for layer, v in series.items() if math.isnan(v)]
    if nan:
        raise CannotJudge(f"{what} is NaN at layer(s) {', '.join(nan)}")
    if len(series) < MIN_VALUES:
        raise CannotJudge(f"{what} covers {len(series)} layer(s) ({', '.join(layers)}); a trend needs {MIN_VALUES}")
    return series


def _series_text(series: pd.Series) -> str:
    items = list(series.items())
    return f"{items[0][1]:.3f} at {items[0][0]} ... {items[-1][1]:.3f} at {items[-1][0]}"


def _trend_text(t: Trend) -> str:
    rho = "undefined" if math.isnan(t.rho) else f"{t.rho:.2f}"
    return f"Spearman rho {rho}, shallow third {t.shallow:.2f} vs deep third {t.deep:.2f}"


def _judge_trend(series: pd.Series, min_drop: float, extra: str = "") -> tuple[str, str]:
    t = trend(series.to_numpy(dtype=float), min_drop)
    text = f"{_series_text(series)}; {_trend_text(t)}"
    if not t.falls:
        text += f"; does not fall: {t.why_not()}"
    return (HOLDS if t.falls else FAILS), text + extra + "."


def _rows_at_k(frame: pd.DataFrame, metric: str, k: int, path: str) -> pd.DataFrame:
    rows = frame[(frame["metric"] == metric) & (frame["k"] == k)]
    if rows.empty:
        ks = sorted(int(v) for v in frame.loc[frame["metric"] == metric, "k"].dropna().unique())
        raise CannotJudge(f"{path} has no {metric} rows at k = {k}; its k values are {ks or 'none'}")
    return rows


def _read(path: str, metrics: Sequence[str], columns=None) -> pd.DataFrame:
    _need_file(path)
    try:
        return read_tidy(path, metrics) if columns is None else read_tidy(path, metrics, columns)
    except UserError as err:
        raise CannotJudge(str(err)) from None


def cka_depth(spec: dict) -> tuple[str, str]:
    depth = _need(spec, "depth", "{pair: [imagenet, rasta_A/1]}")
    frame = _read(depth["cka"], ["linear_cka"])
    linear = frame[frame["metric"] == "linear_cka"]
    if linear["layer"].duplicated().any():
        raise CannotJudge(f"{depth['cka']} has several linear_cka rows for one layer")
    series = _per_layer(linear.set_index("layer")["value"], spec["layers"], f"the linear CKA of {depth['cka']}")
    return _judge_trend(series, spec["min_drop"])


def _topk_frame(depth: dict) -> pd.DataFrame:
    return _read(depth["overlap"], ["overlap", "entropy_a", "entropy_b"], (*TIDY_COLUMNS, "chance"))


def overlap_depth(spec: dict) -> tuple[str, str]:
    depth = _need(spec, "depth", "{pair: [imagenet, rasta_A/1], overlap_k: 100}")
    rows = _rows_at_k(_topk_frame(depth), "overlap", depth["overlap_k"], depth["overlap"])
    means = rows.groupby("layer")["value"].agg(lambda v: v.mean(skipna=False))
    what = f"the mean overlap at k = {depth['overlap_k']} in {depth['overlap']}"
    series = _per_layer(means, spec["layers"], what)
    chance = rows.loc[rows["layer"].isin(spec["layers"]), "chance"].dropna().unique()
    extra = f" (chance level k/n = {chance[0]:.3g})" if len(chance) == 1 else ""
    return _judge_trend(series, spec["min_drop"], extra)


def entropy_layers(layers: Sequence[str]) -> list[str]:
    """The layers of the entropy finding: from the middle of the network on (the second half of ``layers``)."""
    return list(layers)[len(layers) // 2 :]


def entropy_depth(spec: dict) -> tuple[str, str]:
    depth = _need(spec, "depth", "{pair: [imagenet, rasta_A/1], entropy_k: 1000}")
    layers = entropy_layers(spec["layers"])
    if len(layers) < MIN_VALUES:
        raise CannotJudge(
            f"the second half of the config's layers ({', '.join(layers) or 'none'}) has fewer than {MIN_VALUES} "
            "layers; list more layers"
        )
    frame = _topk_frame(depth)
    k, path = depth["entropy_k"], depth["overlap"]
    series = {}
    for metric in ("entropy_b", "entropy_a"):
        rows = _rows_at_k(frame, metric, k, path)
        means = rows.groupby("layer")["value"].mean()  # NaN sets (no positive image) left out
        model = depth["pair"][0 if metric == "entropy_a" else 1]
        try:
            series[metric] = _per_layer(means, layers, f"the mean entropy of {model} at k = {k} in {path}")
        except CannotJudge as err:
            if metric == "entropy_b":
                raise
            series[metric] = err  # the first model's entropy is reported beside, never judged
    if isinstance(series["entropy_a"], CannotJudge):
        extra = f"; {depth['pair'][0]}: not reported ({series['entropy_a']})"
    else:
        before = trend(series["entropy_a"].to_numpy(dtype=float), spec["min_drop"])
        extra = f"; {depth['pair'][0]}: {_series_text(series['entropy_a'])}, {_trend_text(before)}"
    return _judge_trend(series["entropy_b"], spec["min_drop"], extra)


def _pair_name(pair) -> str:
    return f"{pair[0]} vs {pair[1]}"


def _measure_pairs(entries: list[dict], measure: Callable[[dict], float]) -> tuple[dict[str, float], list[str]]:
    values, missing = {}, []
    for entry in entries:
        try:
            value = measure(entry)
        except CannotJudge as err:
            missing.append(str(err))
            continue
        if math.isnan(value):
            missing.append(f"{_pair_name(entry['pair'])} is NaN")
        else:
            values[_pair_name(entry["pair"])] = value
    return values, missing


def _verdict(failures: list[str], missing: list[str], judged: int) -> str:
    if failures:
        return FAILS
    if missing or not judged:
        return UNJUDGED
    return HOLDS


def _missing_text(missing: list[str]) -> str:
    return f"; cannot be read: {'; '.join(missing)}" if missing else ""


def _init_distance(spec: dict, metric: str) -> tuple[str, str]:
    example = "{fine_tuned: [[imagenet, rasta_A/1]], from_scratch: [[rasta_from_scratch/1/init, rasta_from_scratch/1]]}"
    groups = _need(spec, "init_distance", example)

    def measure(entry: dict) -> float:
        path = entry["cka" if metric == "mean_cka" else "l2"]
        _need_file(path)
        try:
            return mean_cka(path, spec["layers"]) if metric == "mean_cka" else mean_l2(path)
        except UserError as err:
            raise CannotJudge(str(err)) from None

    ft, ft_missing = _measure_pairs(groups["fine_tuned"], measure)
    scratch, scratch_missing = _measure_pairs(groups["from_scratch"], measure)
    higher = metric == "mean_cka"  # fine-tuned pairs should have the higher CKA, the lower l2
    failures = [
        f"{a} ({va:.3f}) is not {'above' if higher else 'below'} {b} ({vb:.3f})"
        for a, va in ft.items()
        for b, vb in scratch.items()
        if not (va > vb if higher else va < vb)
    ]
    name = "mean CKA" if higher else "mean l2"
    listing = "; ".join(
        f"{name} of the {label} pairs: " + (", ".join(f"{pair} {v:.3f}" for pair, v in values.items()) or "none")
        for label, values in (("fine-tuned", ft), ("from-scratch", scratch))
    )
    text = listing
    if ft and scratch:
        if higher:
            text += f"; lowest fine-tuned {min(ft.values()):.3f} vs highest from scratch {max(scratch.values()):.3f}"
        else:
            text += f"; highest fine-tuned {max(ft.values()):.3f} vs lowest from scratch {min(scratch.values()):.3f}"
    if failures:
        text += f"; fails: {'; '.join(failures)}"
    missing = ft_missing + scratch_missing
    judged = len(ft) * len(scratch)
    return _verdict(failures, missing, judged), text + _missing_text(missing) + "."


def init_distance_cka(spec: dict) -> tuple[str, str]:
    return _init_distance(spec, "mean_cka")


def init_distance_l2(spec: dict) -> tuple[str, str]:
    return _init_distance(spec, "mean_l2")


TABLE_COLUMNS = ("model", "dataset", "metric", "mean")


def _row_means(frame: pd.DataFrame, label: str, where: str) -> dict[str, pd.DataFrame]:
    rows = frame[frame["model"] == label]
    if rows.empty:
        labels = ", ".join(dict.fromkeys(frame["model"].astype(str)))
        raise CannotJudge(f"{where} has no row {label!r} (its rows: {labels or 'none'})")
    return {dataset: group for dataset, group in rows.groupby("dataset", sort=False)}


def _compare_rows(entry: dict) -> tuple[list[str], list[str], list[str]]:
    """(comparisons that hold, that fail, that cannot be made) for one pair of rows, one per shared dataset."""
    path = _need_file(entry["csv"])
    try:
        frame = pd.read_csv(path)
    except (pd.errors.EmptyDataError, pd.errors.ParserError) as err:
        raise CannotJudge(f"{path} is not a result table ({err})") from None
    absent = [c for c in TABLE_COLUMNS if c not in frame.columns]
    if absent:
        raise CannotJudge(f"{path} lacks column(s) {', '.join(absent)}; it is not a result table")
    better = _row_means(frame, entry["better"], str(path))
    worse = _row_means(frame, entry["worse"], str(path))
    shared = [d for d in better if d in worse]
    if not shared:
        raise CannotJudge(f"rows {entry['better']!r} and {entry['worse']!r} of {path} share no dataset")
    held, failed, missing = [], [], []
    for dataset in shared:
        metric = entry.get("main_metrics", {}).get(dataset) or str(better[dataset]["metric"].iloc[0])
        values, problems = [], []
        for label, rows in ((entry["better"], better[dataset]), (entry["worse"], worse[dataset])):
            mean = rows.loc[rows["metric"] == metric, "mean"]
            if len(mean) != 1:
                problems.append(f"{path}: row {label!r} has {len(mean)} {metric} line(s) for {dataset}, not one")
            elif math.isnan(float(mean.iloc[0])):
                problems.append(f"{path}: row {label!r} has a NaN {metric} mean for {dataset}")
            else:
                values.append(float(mean.iloc[0]))
        if problems:
            missing += problems
            continue
        text = f"{entry['table']} {dataset} {metric}: {entry['better']} {values[0]:.2f}"
        if values[0] > values[1]:
            held.append(f"{text} > {entry['worse']} {values[1]:.2f}")
        else:
            failed.append(f"{text} <= {entry['worse']} {values[1]:.2f}")
    return held, failed, missing


def _rows_finding(spec: dict, key: str, example: str) -> tuple[str, str]:
    entries = _need(spec, key, example)
    held, failed, missing = [], [], []
    for entry in entries:
        try:
            h, f, m = _compare_rows(entry)
        except CannotJudge as err:
            missing.append(str(err))
            continue
        held, failed, missing = held + h, failed + f, missing + m
    parts = []
    if held:
        parts.append("; ".join(held))
    if failed:
        parts.append(f"fails: {'; '.join(failed)}")
    text = "; ".join(parts) or "no comparison could be made"
    return _verdict(failed, missing, len(held) + len(failed)), text + _missing_text(missing) + "."


def fine_tuning_beats_off_the_shelf(spec: dict) -> tuple[str, str]:
    example = "[{table: table1, fine_tuned: FT mode A, off_the_shelf: Off-the-shelf}]"
    return _rows_finding(spec, "fine_tuning", example)


def double_beats_direct(spec: dict) -> tuple[str, str]:
    example = "[{table: table3, double: FT from ImageNet then RASTA, direct: FT from ImageNet (mode A)}]"
    return _rows_finding(spec, "double_fine_tuning", example)


def _claims(spec: dict) -> dict[str, str]:
    depth = spec.get("depth")
    a, b = depth["pair"] if depth else ("the pretrained model", "the fine-tuned model")
    ok = f"top-{depth['overlap_k']}" if depth else "top-k"
    ek = f"top-{depth['entropy_k']}" if depth else "top-k"
    tables = sorted({e["table"] for e in spec.get("fine_tuning", [])})
    return {
        "cka_depth": f"linear CKA between {a} and {b} falls with depth (fig. 5)",
        "overlap_depth": f"the {ok} overlap between {a} and {b}, averaged over channels, falls with depth (fig. 6a)",
        "entropy_depth": (
            f"the class entropy of {b}'s {ek} sets, averaged over channels, falls from the middle of the network on "
            "(fig. 6b)"
        ),
        "init_distance_cka": (
            "fine-tuning moves a network less than training from scratch: every fine-tuned pair has a higher mean "
            "CKA than every from-scratch pair (table 2, fig. 5)"
        ),
        "init_distance_l2": (
            "fine-tuning moves a network's kernels less than training from scratch: every fine-tuned pair has a "
            "lower mean l2 than every from-scratch pair (table 2)"
        ),
        "fine_tuning_beats_off_the_shelf": (
            "fine-tuning beats the off-the-shelf classifier on every dataset"
            + (f" ({', '.join(tables)})" if tables else " (tables 1 and 3)")
        ),
        "double_beats_direct": (
            "fine-tuning on RASTA first, then on the small dataset, beats fine-tuning on the small dataset "
            "directly (table 3)"
        ),
    }


FINDINGS: dict[str, Callable[[dict], tuple[str, str]]] = {
    "cka_depth": cka_depth,
    "overlap_depth": overlap_depth,
    "entropy_depth": entropy_depth,
    "init_distance_cka": init_distance_cka,
    "init_distance_l2": init_distance_l2,
    "fine_tuning_beats_off_the_shelf": fine_tuning_beats_off_the_shelf,
    "double_beats_direct": double_beats_direct,
}


def evaluate_findings(spec: dict) -> list[Finding]:
    """Every finding of the module docstring, in order, judged on the files ``spec`` names (see
    :func:`findings_spec`). A missing key, file or row makes its finding ``cannot be judged``, never an error."""
    spec = {"layers": [], "min_drop": DEFAULT_MIN_DROP, **spec}
    claims = _claims(spec)
    out = []
    for ident, judge in FINDINGS.items():
        try:
            verdict, statement = judge(spec)
        except CannotJudge as err:
            verdict, statement = UNJUDGED, f"{err}."
        out.append(Finding(ident, claims[ident], verdict, statement))
    return out


def to_markdown(findings: Sequence[Finding], title: str = TITLE) -> str:
    lines = [f"# {title}", "", *(f.markdown() for f in findings), "", DEFINITIONS]
    return "\n".join(lines) + "\n"


def write_findings(
    spec: dict, out_md: str | Path, out_csv: str | Path | None = None, out_html: str | Path | None = None
) -> list[Finding]:
    """Judge the findings and write them as markdown (and CSV: id, verdict, claim, statement; and the report's
    HTML page), atomically."""
    findings = evaluate_findings(spec)
    if out_html:
        from artfinetune.report import findings_page

        findings_page(findings, spec.get("title", TITLE), DEFINITIONS, out_html)
    with atomic_path(out_md) as tmp:
        tmp.write_text(to_markdown(findings, spec.get("title", TITLE)), encoding="utf-8")
    if out_csv:
        with atomic_path(out_csv) as tmp, open(tmp, "w", newline="", encoding="utf-8") as f:
            writer = csv.DictWriter(f, fieldnames=CSV_COLUMNS)
            writer.writeheader()
            writer.writerows({k: asdict(finding)[k] for k in CSV_COLUMNS} for finding in findings)
    return findings
