"""Each claim judged on a spec's files: one function per finding, returning (verdict, statement) or raising
:class:`CannotJudge` (see :mod:`artfinetune.report.findings` for the definitions)."""

from __future__ import annotations

import math
from collections.abc import Callable, Sequence
from pathlib import Path

import pandas as pd

from artfinetune.errors import UserError
from artfinetune.metrics.summaries import mean_cka, mean_l2
from artfinetune.metrics.table import OVERLAP_COLUMNS, OVERLAP_METRICS, read_tidy, rows_at_k
from artfinetune.model.architectures import DEFAULT as DEFAULT_ARCHITECTURE
from artfinetune.model.architectures import architecture
from artfinetune.model.layers import network_order
from artfinetune.report.findings.correlation import spearman_interval
from artfinetune.report.findings.trend import MIN_VALUES, Trend, trend
from artfinetune.report.findings.verdicts import FAILS, HOLDS, UNJUDGED, CannotJudge
from artfinetune.study.names import pair_label


def _need_file(path: str) -> Path:
    if not Path(path).exists():
        raise CannotJudge(f"{path} does not exist; build it first (snakemake {path})")
    return Path(path)


def _need(spec: dict, key: str, example: str) -> dict | list:
    if key not in spec:
        section = spec.get("section", "findings")
        raise CannotJudge(f"the config has no {section}.{key}; set it to judge this claim (e.g. {example})")
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


def spread_text(effect: float, others: Sequence[float], what: str) -> str:
    """How an effect compares with the spread across seeds: ``others`` are the same effect measured on the same
    comparison with other seeds; '' without any."""
    if not others:
        return ""
    values = [effect, *others]
    spread = max(values) - min(values)
    larger = abs(effect) > spread
    return (
        f"; {what} over seeds {', '.join(f'{v:.3f}' for v in values)}: seed spread {spread:.3f}, the effect "
        f"({effect:.3f}) is {'larger than' if larger else 'within'} the seed spread"
    )


def _variant_drops(depth: dict, series_of: Callable[[dict], pd.Series], min_drop: float) -> tuple[list[float], str]:
    """The drop (shallow minus deep third) of each seed variant of the depth pair, and a note of those unread."""
    drops, unread = [], []
    for variant in depth.get("variants", []):
        try:
            drops.append(trend(series_of(variant).to_numpy(dtype=float), min_drop).drop)
        except (CannotJudge, ValueError) as err:
            unread.append(f"{pair_label(variant['pair'])}: {err}")
    return drops, (f"; seed variants not read: {'; '.join(unread)}" if unread else "")


def _judge_depth(series: pd.Series, spec: dict, series_of, extra: str = "") -> tuple[str, str]:
    """A depth trend judged, and its drop compared with the drops of the depth pair's seed variants."""
    depth = spec["depth"]
    verdict, text = _judge_trend(series, spec["min_drop"], extra)
    drops, unread = _variant_drops(depth, series_of, spec["min_drop"])
    drop = trend(series.to_numpy(dtype=float), spec["min_drop"]).drop
    return verdict, text.removesuffix(".") + spread_text(drop, drops, "the drop") + unread + "."


def _rows_at_k(frame: pd.DataFrame, metric: str, k: int, path: str) -> pd.DataFrame:
    try:
        return rows_at_k(frame, [metric], k, path)
    except UserError as err:
        raise CannotJudge(str(err)) from None


def _read(path: str, metrics: Sequence[str], columns=None) -> pd.DataFrame:
    _need_file(path)
    try:
        return read_tidy(path, metrics) if columns is None else read_tidy(path, metrics, columns)
    except UserError as err:
        raise CannotJudge(str(err)) from None


def cka_depth(spec: dict) -> tuple[str, str]:
    depth = _need(spec, "depth", "{pair: [imagenet, rasta_A/1]}")

    def series_of(entry: dict) -> pd.Series:
        frame = _read(entry["cka"], ["linear_cka"])
        linear = frame[frame["metric"] == "linear_cka"]
        if linear["layer"].duplicated().any():
            raise CannotJudge(f"{entry['cka']} has several linear_cka rows for one layer")
        return _per_layer(linear.set_index("layer")["value"], spec["layers"], f"the linear CKA of {entry['cka']}")

    return _judge_depth(series_of(depth), spec, series_of)


def _topk_frame(depth: dict) -> pd.DataFrame:
    return _read(depth["overlap"], OVERLAP_METRICS, OVERLAP_COLUMNS)


def overlap_depth(spec: dict) -> tuple[str, str]:
    depth = _need(spec, "depth", "{pair: [imagenet, rasta_A/1], overlap_k: 100}")
    k = depth["overlap_k"]

    def series_of(entry: dict) -> pd.Series:
        rows = _rows_at_k(_topk_frame(entry), "overlap", k, entry["overlap"])
        means = rows.groupby("layer")["value"].agg(lambda v: v.mean(skipna=False))
        return _per_layer(means, spec["layers"], f"the mean overlap at k = {k} in {entry['overlap']}")

    rows = _rows_at_k(_topk_frame(depth), "overlap", k, depth["overlap"])
    chance = rows.loc[rows["layer"].isin(spec["layers"]), "chance"].dropna().unique()
    extra = f" (chance level k/n = {chance[0]:.3g})" if len(chance) == 1 else ""
    return _judge_depth(series_of(depth), spec, series_of, extra)


def entropy_layers(layers: Sequence[str]) -> list[str]:
    """The layers of the entropy finding: from the middle of the network on (the second half of ``layers`` in
    network order, whatever order they are given in)."""
    ordered = network_order(layers)
    return ordered[len(ordered) // 2 :]


def entropy_depth(spec: dict) -> tuple[str, str]:
    depth = _need(spec, "depth", "{pair: [imagenet, rasta_A/1], entropy_k: 1000}")
    layers = entropy_layers(spec["layers"])
    if len(layers) < MIN_VALUES:
        raise CannotJudge(
            f"the second half of the config's layers in network order ({', '.join(layers) or 'none'}) has fewer "
            f"than {MIN_VALUES} "
            "layers; list more layers"
        )
    k = depth["entropy_k"]

    def series_of(entry: dict, metric: str = "entropy_b") -> pd.Series:
        rows = _rows_at_k(_topk_frame(entry), metric, k, entry["overlap"])
        means = rows.groupby("layer")["value"].mean()  # NaN sets (no positive image) left out
        model = entry["pair"][0 if metric == "entropy_a" else 1]
        return _per_layer(means, layers, f"the mean entropy of {model} at k = {k} in {entry['overlap']}")

    series = {}
    for metric in ("entropy_b", "entropy_a"):
        try:
            series[metric] = series_of(depth, metric)
        except CannotJudge as err:
            if metric == "entropy_b":
                raise
            series[metric] = err  # the first model's entropy is reported beside, never judged
    if isinstance(series["entropy_a"], CannotJudge):
        extra = f"; {depth['pair'][0]}: not reported ({series['entropy_a']})"
    else:
        before = trend(series["entropy_a"].to_numpy(dtype=float), spec["min_drop"])
        extra = f"; {depth['pair'][0]}: {_series_text(series['entropy_a'])}, {_trend_text(before)}"
    return _judge_depth(series["entropy_b"], spec, series_of, extra)


def _measure_pairs(entries: list[dict], measure: Callable[[dict], float]) -> tuple[dict[str, float], list[str]]:
    values, missing = {}, []
    for entry in entries:
        try:
            value = measure(entry)
        except CannotJudge as err:
            missing.append(str(err))
            continue
        if math.isnan(value):
            missing.append(f"{pair_label(entry['pair'])} is NaN")
        else:
            values[pair_label(entry["pair"])] = value
    return values, missing


def _verdict(failures: list[str], missing: list[str], judged: int) -> str:
    if failures:
        return FAILS
    if missing or not judged:
        return UNJUDGED
    return HOLDS


def _missing_text(missing: list[str]) -> str:
    return f"; cannot be read: {'; '.join(missing)}" if missing else ""


def _and(items: Sequence[str]) -> str:
    return items[0] if len(items) == 1 else f"{', '.join(items[:-1])} and {items[-1]}"


def _kept_frozen(spec: dict) -> dict[str, list[str]]:
    """Model -> the study layers it kept frozen from its init, for the models of every compared pair that kept some."""
    groups = spec["init_distance"]
    frozen: dict[str, list[str]] = {}
    for entry in [*groups["fine_tuned"], *groups["from_scratch"]]:
        frozen.update(entry.get("frozen", {}))
    return frozen


def _left_out(frozen: dict[str, list[str]], layers: Sequence[str], by_construction: str) -> tuple[list[str], str]:
    """Of ``layers``, those a model kept frozen (left out of every pair), and a statement of them: which models kept
    them frozen, and what that makes them."""
    left = [layer for layer in layers if any(layer in kept for kept in frozen.values())]
    if not left:
        return [], ""
    by_model = {model: [layer for layer in left if layer in kept] for model, kept in frozen.items()}
    by_model = {model: kept for model, kept in by_model.items() if kept}
    if len({tuple(kept) for kept in by_model.values()}) == 1:
        who = f"{_and(list(by_model))} kept frozen from {'its init' if len(by_model) == 1 else 'their inits'}"
    else:
        who = (
            _and([f"{model} ({', '.join(kept)})" for model, kept in by_model.items()]) + " kept frozen from their inits"
        )
    why = f"a model equals its init at a frozen layer: {by_construction} there by construction"
    return left, f"{', '.join(left)}, which {who} ({why})"


def _cka_layers(spec: dict) -> tuple[list[str], str]:
    """The config's layers that no model of a compared pair kept frozen, which every pair's CKA is averaged over,
    and a statement of what was left out ('' if nothing)."""
    left, why = _left_out(_kept_frozen(spec), spec["layers"], "CKA 1")
    over = [layer for layer in spec["layers"] if layer not in left]
    if not left:
        return over, ""
    if not over:
        raise CannotJudge(
            f"no layer is left to compare: the config's layers are all left out: {why}; add to layers some that no "
            "model of a compared pair kept frozen"
        )
    layers = f"the {len(over)} layers" if len(over) > 1 else "the layer"
    return over, (
        f"averaged over {layers} no compared model kept frozen ({', '.join(over)}), the same for every pair; left "
        f"out: {why}; "
    )


def _l2_convs(spec: dict) -> tuple[list[str] | None, str]:
    """The trunk's convolutions of the layers no model of a compared pair kept frozen, which every pair's l2 is
    averaged over (None if nothing is left out: the l2 file's own mean, as table 2 shows it), and a statement of
    what was left out ('' if nothing)."""
    arch = architecture(spec.get("architecture", DEFAULT_ARCHITECTURE))
    left, why = _left_out(_kept_frozen(spec), arch.study_layers, "l2 0")
    over = [layer for layer in arch.study_layers if layer not in left]
    if not left:
        return None, ""
    if not over:
        raise CannotJudge(f"no convolution is left to compare: every layer of the trunk is left out: {why}")
    convs = arch.convs_of(over)
    return convs, (
        f"averaged over the {len(convs)} convolutions of the layers no compared model kept frozen "
        f"({', '.join(over)}), the same for every pair; left out: the {len(arch.convs_of(left))} convolutions of "
        f"{why}; "
    )


def _init_distance(spec: dict, metric: str) -> tuple[str, str]:
    example = "{fine_tuned: [[imagenet, rasta_A/1]], from_scratch: [[rasta_from_scratch/1/init, rasta_from_scratch/1]]}"
    groups = _need(spec, "init_distance", example)
    over, left_out = _cka_layers(spec) if metric == "mean_cka" else _l2_convs(spec)

    def measure(entry: dict) -> float:
        path = entry["cka" if metric == "mean_cka" else "l2"]
        _need_file(path)
        try:
            return mean_cka(path, over) if metric == "mean_cka" else mean_l2(path, over)
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
    text = left_out + listing
    if ft and scratch:
        if higher:
            text += f"; lowest fine-tuned {min(ft.values()):.3f} vs highest from scratch {max(scratch.values()):.3f}"
        else:
            text += f"; highest fine-tuned {max(ft.values()):.3f} vs lowest from scratch {min(scratch.values()):.3f}"
    if ft and scratch:
        gap = min(ft.values()) - max(scratch.values()) if higher else min(scratch.values()) - max(ft.values())
        text += _pairs_spread_text(gap, [*groups["fine_tuned"], *groups["from_scratch"]], measure)
    if failures:
        text += f"; fails: {'; '.join(failures)}"
    missing = ft_missing + scratch_missing
    judged = len(ft) * len(scratch)
    return _verdict(failures, missing, judged), text + _missing_text(missing) + "."


def _pairs_spread_text(gap: float, entries: list[dict], measure: Callable[[dict], float]) -> str:
    """How the gap between the groups compares with the largest seed spread of a compared pair (the pair measured
    with its models' other seeds); '' when no pair has a seed variant that can be read."""
    spreads = {}
    for entry in entries:
        values = []
        for variant in entry.get("variants", []):
            try:
                values.append(measure(variant))
            except CannotJudge:
                continue
        values = [v for v in values if not math.isnan(v)]
        if values:
            try:
                values.append(measure(entry))
            except CannotJudge:
                continue
            spreads[pair_label(entry["pair"])] = max(values) - min(values)
    if not spreads:
        return ""
    widest = max(spreads, key=spreads.get)
    larger = abs(gap) > spreads[widest]
    against = ", against the claim" if gap < 0 else ""
    return (
        f"; the gap between the groups ({gap:.3f}{against}) is {'larger than' if larger else 'within'} the largest "
        f"seed spread of a pair ({widest}: {spreads[widest]:.3f} over its seeds)"
    )


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
        values, spreads, problems = [], [], []
        for label, rows in ((entry["better"], better[dataset]), (entry["worse"], worse[dataset])):
            line = rows[rows["metric"] == metric]
            if len(line) != 1:
                problems.append(f"{path}: row {label!r} has {len(line)} {metric} line(s) for {dataset}, not one")
            elif math.isnan(float(line["mean"].iloc[0])):
                problems.append(f"{path}: row {label!r} has a NaN {metric} mean for {dataset}")
            else:
                values.append(float(line["mean"].iloc[0]))
                spread = float(line["spread"].iloc[0]) if "spread" in line else math.nan
                if not math.isnan(spread):
                    spreads.append(spread)
        if problems:
            missing += problems
            continue
        text = f"{entry['table']} {dataset} {metric}: {entry['better']} {values[0]:.2f}"
        difference = values[0] - values[1]
        beside = ""
        if spreads:
            larger = abs(difference) > max(spreads)
            beside = (
                f" (difference {difference:.2f} {'larger than' if larger else 'within'} the rows' largest seed "
                f"spread {max(spreads):.2f})"
            )
        if values[0] > values[1]:
            held.append(f"{text} > {entry['worse']} {values[1]:.2f}{beside}")
        else:
            failed.append(f"{text} <= {entry['worse']} {values[1]:.2f}{beside}")
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


def render_change_overlap(spec: dict) -> tuple[str, str]:
    """Over the gallery pair's randomly sampled channels, the Spearman correlation between top-k overlap and render
    change is negative: its 95 % interval lies below 0."""
    entry = _need(spec, "render_change", "render_change: {pair: [imagenet, rasta_A/1]}")
    frame = pd.read_csv(_need_file(entry["csv"]))
    sampled = frame[frame["sampled"].astype(bool)]
    usable = sampled[sampled["overlap"].notna() & sampled["render_change"].notna()]
    minimum = entry["min_channels"]
    if len(usable) < minimum:
        raise CannotJudge(
            f"{len(usable)} randomly sampled channels have a render change and an overlap in {entry['csv']}, fewer "
            f"than {spec.get('section', 'findings')}.render_change.min_channels = {minimum}; raise render.sample "
            "(channels per layer)"
        )
    c = spearman_interval(usable["overlap"], usable["render_change"])
    if math.isnan(c.rho):
        raise CannotJudge(f"the overlap or the render change is the same on every sampled channel of {entry['csv']}")
    layers = usable["layer"].nunique()
    said = (
        f"Spearman rho between top-{entry['k']} overlap and render change = {c.rho:.2f} (95 % CI {c.low:.2f} to "
        f"{c.high:.2f}) over {c.n} channels drawn at random in {layers} layers, {pair_label(entry['pair'])}"
    )
    if c.high < 0:
        return HOLDS, f"{said}: channels whose top-k sets changed more have more changed renders."
    if c.low > 0:
        return FAILS, f"{said}: the opposite sign, channels whose top-k sets changed more have less changed renders."
    return FAILS, f"{said}: the interval includes 0, so no link is shown at this sample size."
