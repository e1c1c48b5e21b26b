"""Cross-reference checks of a study config: every name that points at another section exists and fits.

The schema checks each value on its own; these check what it cannot see: a run's mode and init, a pair's models
and dataset, a table row's runs, a layer or channel name, a k that must be one of ``topk``. Each failure is one
sentence naming the key and the fix (:class:`artfinetune.errors.ConfigError`).
"""

from __future__ import annotations

from artfinetune.errors import ConfigError
from artfinetune.model import layers
from artfinetune.model.architectures import ARCHITECTURES, architecture, tensor_architecture
from artfinetune.model.architectures import DEFAULT as DEFAULT_ARCHITECTURE
from artfinetune.study.names import (
    ARCHITECTURES_OUTPUT,
    RANDOM_INIT,
    analysis_layers,
    choices,
    dataset_of,
    findings_blocks,
    findings_pairs,
    first_run,
    init_architecture,
    metrics_of,
    model_architecture,
    named_pairs,
    pair_architecture,
    pair_dataset,
    pair_id,
    parse_model,
    run_architecture,
    run_seeds,
)


def check_references(config: dict, origin: str = "the config") -> None:
    """Check every name that points at another section (runs, inits, comparisons, layers)."""

    def fail(msg: str):
        raise ConfigError(f"{origin}: {msg}")

    datasets, modes, inits, runs = (config[k] for k in ("datasets", "modes", "init", "runs"))
    if RANDOM_INIT in inits:
        fail(f"init.{RANDOM_INIT} is reserved for the seeded random init; rename that init")
    for name, init in inits.items():
        if init["kind"] == "pretrain":
            if init["dataset"] not in datasets:
                fail(f"init.{name} names dataset {init['dataset']!r}, which is not in datasets ({choices(datasets)})")
            if init["mode"] not in modes:
                fail(f"init.{name} names mode {init['mode']!r}, which is not in modes ({choices(modes)})")
    ensembles, tables = config["ensembles"], config["tables"]
    for name in runs:
        if name in inits:
            fail(f"run {name!r} has the name of an init; rename one of them")
        if name == "init":
            fail("'init' is reserved for the folder of initial models; rename that run")
    for name, run in runs.items():
        if run["dataset"] not in datasets:
            fail(
                f"runs.{name}.dataset is {run['dataset']!r}, which is not in datasets ({choices(datasets)}); "
                "add it to datasets or fix the run"
            )
        if run["mode"] not in modes:
            fail(
                f"runs.{name}.mode is {run['mode']!r}, which is not in modes ({choices(modes)}); "
                "add it to modes or fix the run"
            )
        init = run["init"]
        if init != RANDOM_INIT and init not in inits and init not in runs:
            fail(
                f"runs.{name}.init is {init!r}, which is neither 'random', an init ({choices(inits)}) "
                f"nor a run; fix the name or add that run"
            )
    for name in runs:
        _check_no_cycle(name, runs, fail)
    _check_run_seeds(config, fail)
    from_random = [(f"runs.{n}", r["mode"]) for n, r in runs.items() if r["init"] == RANDOM_INIT]
    from_random += [(f"init.{n}", i["mode"]) for n, i in inits.items() if i["kind"] == "pretrain"]
    for where, mode_name in from_random:
        _check_random_init_mode(where, mode_name, modes[mode_name], fail)
    for name, ensemble in ensembles.items():
        if name in runs or name in inits or name == "init":
            fail(f"ensemble {name!r} has the name of a run or init; rename it")
        unknown = [r for r in ensemble["runs"] if r not in runs]
        if unknown:
            fail(f"ensembles.{name}.runs names {unknown}, which are not in runs")
        if len({runs[r]["dataset"] for r in ensemble["runs"]}) > 1:
            fail(f"ensembles.{name} mixes datasets; an ensemble averages runs of one dataset")
        if not run_seeds(config, name):
            own = {r: run_seeds(config, r) for r in ensemble["runs"]}
            fail(f"ensembles.{name}: its runs share no seed ({own}); give them a common seed in runs.<run>.seeds")
    _check_architectures(config, fail)
    for table_name, table in tables.items():
        for k, row in enumerate(table["rows"]):
            where = f"tables.{table_name}.rows[{k}] ({row['label']})"
            unknown = [r for r in row["runs"] if r not in runs and r not in ensembles]
            if unknown:
                fail(f"{where} names {unknown}, which are neither runs nor ensembles")
            if "paper" in row:
                expected = sum(len(metrics_of(config, r)) for r in row["runs"])
                if len(row["paper"]) != expected:
                    fail(
                        f"{where} gives {len(row['paper'])} paper values, expected {expected} "
                        "(for each run, its dataset's metrics)"
                    )
    for layer in config["layers"]:
        arch = tensor_architecture(layer) if layer in layers.tensor_widths() else None
        if arch is None or layer not in arch.study_layers:
            what = f"a tensor of {arch.name} but not one of its analysis layers" if arch else "no layer of any network"
            known = "; ".join(f"{a.name}: {', '.join(a.study_layers)}" for a in ARCHITECTURES.values())
            fail(f"layers: {layer!r} is {what}; the analysis layers are {known}")
    for tensor in config["tensors"]:
        try:
            layers.check_layer(tensor)
        except ValueError as err:
            fail(f"tensors: {err}")
    _check_channels("render.channels", config["render"]["channels"], fail)
    analysed = [layer for arch in ARCHITECTURES for layer in analysis_layers(config, arch)]
    unknown = [layer for layer in config["render"].get("layers", []) if layer not in analysed]
    if unknown:
        fail(
            f"render.layers has {unknown}, which are not analysed (layers {config['layers']}, or all the analysis "
            "layers of an architecture none of whose layers is listed there); the gallery chooses its channels from "
            "the study's overlap tables, which have the analysed layers only"
        )
    if config["render"]["k"] not in config["topk"]:
        fail(f"render.k is {config['render']['k']}, which is not in topk {config['topk']}; add it to topk or change it")
    _check_pairs(config, fail)
    _check_mode_tables(config, fail)
    _check_findings(config, fail)


def _check_architectures(config: dict, fail) -> None:
    """A run names an architecture only from a random init; a mode's ``frozen`` and ``reinit`` name layers of the
    architecture of every run (and pretrained init) trained in it; deep supervision needs InceptionV1's auxiliary
    heads."""
    modes, runs, inits = config["modes"], config["runs"], config["init"]
    for name, run in runs.items():
        if "architecture" in run and run["init"] != RANDOM_INIT:
            fail(
                f"runs.{name}.architecture is {run['architecture']}, but the run starts from {run['init']!r}, whose "
                "architecture it has; drop the key (it is for runs from a random init)"
            )
    trained = [(f"runs.{n}", r["mode"], run_architecture(config, n)) for n, r in runs.items()]
    trained += [(f"init.{n}", i["mode"], init_architecture(i)) for n, i in inits.items() if i["kind"] == "pretrain"]
    used = {}
    for where, mode_name, arch_name in trained:
        used.setdefault(mode_name, []).append((where, arch_name))
    for name, mode in modes.items():
        for where, arch_name in used.get(name, [(None, DEFAULT_ARCHITECTURE)]):
            arch = architecture(arch_name)
            trained_by = f" ({where}, trained in this mode, is a {arch_name} model)" if where else ""
            for key in ("frozen", "reinit"):
                try:
                    layers.expand_layers(mode[key], arch.study_layers)
                except ValueError as err:
                    fail(f"modes.{name}.{key}: {err}{trained_by}")
            if mode.get("deep_supervision") and arch_name != DEFAULT_ARCHITECTURE:
                fail(
                    f"modes.{name} sets deep_supervision, which trains InceptionV1's auxiliary heads, but "
                    f"{where} is a {arch_name} model, which has none; give it a mode without deep_supervision"
                )


def _check_run_seeds(config: dict, fail) -> None:
    """A run's own seeds are some of the study's, and a run that starts from another run finds each of its seeds
    there (``objects_A/2`` starts from ``styles_A/2``)."""
    runs = config["runs"]
    for name, run in runs.items():
        unknown = [s for s in run.get("seeds", []) if s not in config["seeds"]]
        if unknown:
            fail(
                f"runs.{name}.seeds has {unknown}, which are not in seeds {config['seeds']}; "
                "a run's seeds are some of the study's"
            )
    for name, run in runs.items():
        if run["init"] in runs:
            missing = [s for s in run_seeds(config, name) if s not in run_seeds(config, run["init"])]
            if missing:
                fail(
                    f"runs.{name} starts from run {run['init']!r} with seeds {missing}, which {run['init']!r} is "
                    f"not trained with ({run_seeds(config, run['init'])}); add them to runs.{run['init']}.seeds "
                    f"or give runs.{name} seeds {run_seeds(config, run['init'])}"
                )


def _check_channels(where: str, channels: list[str], fail) -> None:
    for channel in channels:
        try:
            layers.parse_channel(channel)
        except ValueError as err:
            fail(f"{where}: {err}")


def _check_channel_architecture(config: dict, where: str, channel: str, pair, fail) -> None:
    """A channel shown for a pair is one of the pair's architecture."""
    arch = tensor_architecture(layers.parse_channel(channel)[0]).name
    own = pair_architecture(config, pair)
    if arch != own:
        fail(f"{where}: channel {channel} is one of {arch}, but its pair's models are {own} models; name one of theirs")


def _check_pairs(config: dict, fail) -> None:
    ids = {}
    for where, pair in named_pairs(config):
        for model in pair:
            try:
                parse_model(model, config)
            except ValueError as err:
                fail(f"{where}: {err}")
        if pair[0] == pair[1]:
            fail(f"{where} compares {pair[0]} with itself; name two different models")
        archs = [model_architecture(config, model) for model in pair]
        if archs[0] != archs[1]:
            fail(
                f"{where} compares {pair[0]} ({archs[0]}) with {pair[1]} ({archs[1]}); a pair compares two "
                "models of one architecture (their layers, kernels and channels), so name two of the same"
            )
        if pair_dataset(config, pair) is None:
            fail(f"{where} names no run ({pair[0]}, {pair[1]}), so no dataset to compare them on; include a run")
        ident = pair_id(pair)
        if ids.setdefault(ident, tuple(pair)) != tuple(pair):
            fail(f"{where}: the pairs {list(ids[ident])} and {pair} share the folder name {ident}; rename a run")
    ks = config["topk"]
    for name, figure in config["figures"].items():
        for i, box in enumerate(figure.get("boxes", [])):
            where = f"figures.{name}.boxes[{i}]"
            if box["k"] not in ks:
                fail(f"{where}.k is {box['k']}, which is not in topk {ks}; add it to topk or change it")
            if "model" in box and box["metric"] == "overlap":
                fail(f"{where} is an overlap panel, which compares both models of its pair; drop its model")
            if "model" in box and box["model"] not in box["pair"]:
                fail(f"{where}.model is {box['model']}, not a model of its pair {box['pair']}; name one of the two")
        reference = figure.get("reference")
        if reference and len(reference["values"]) != len(layers.STUDY_LAYERS):
            fail(
                f"figures.{name}.reference gives {len(reference['values'])} values, expected one per study layer "
                f"({', '.join(layers.STUDY_LAYERS)})"
            )
    for name, panel in config["panels"].items():
        if name in config["figures"]:
            fail(f"panels.{name} has the name of a figure; rename one (both write figures/{name})")
        for i, column in enumerate(panel["columns"]):
            _check_channels(f"panels.{name}.columns[{i}].channel", [column["channel"]], fail)
            _check_channel_architecture(config, f"panels.{name}.columns[{i}]", column["channel"], column["pair"], fail)
        if panel.get("dataset") and panel["dataset"] not in config["datasets"]:
            fail(f"panels.{name}.dataset is {panel['dataset']!r}, not a dataset of the config; name one of datasets")
        firsts = sorted({column["pair"][0] for column in panel["columns"]})
        if panel["layout"] == "models" and len(firsts) > 1:
            fail(
                f"panels.{name} has layout models, so every column's pair must start from one model; they start "
                f"from {', '.join(firsts)}: use layout channels or one first model"
            )
    for name, table in config["comparison_tables"].items():
        if name in config["tables"]:
            fail(f"comparison_tables.{name} has the name of a table in tables; rename one (both write tables/{name})")
        for r, row in enumerate(table["rows"]):
            expected = len(row["pairs"]) * len(table["metrics"])
            if "paper" in row and len(row["paper"]) != expected:
                fail(
                    f"comparison_tables.{name}.rows[{r}] ({row['label']}) gives {len(row['paper'])} paper values, "
                    f"expected {expected} (for each pair, its metrics)"
                )


def _check_mode_tables(config: dict, fail) -> None:
    """Table 5's rows name modes, and its name is not that of another table (all write tables/<name>)."""
    for name, table in config["mode_tables"].items():
        for other in ("tables", "comparison_tables"):
            if name in config[other]:
                fail(f"mode_tables.{name} has the name of a table in {other}; rename one (both write tables/{name})")
        for r in range(len(table["rows"])):
            problem = unknown_mode_row(config, name, r)
            if problem:
                fail(problem)


def unknown_mode_row(config: dict, table: str, r: int) -> str | None:
    """The sentence saying that row ``r`` of mode table ``table`` names no mode of the config, or None."""
    mode = config["mode_tables"][table]["rows"][r]["mode"]
    if mode in config["modes"]:
        return None
    return (
        f"mode_tables.{table}.rows[{r}] names mode {mode!r}, which is not in modes ({choices(config['modes'])}); "
        "add it to modes or fix the row"
    )


def _check_random_init_mode(where: str, mode_name: str, mode: dict, fail) -> None:
    """From a random init nothing is transferred: two learning rates or frozen layers would do something
    other than the mode's table row says."""
    if mode.get("kind") == "off_the_shelf":
        fail(f"{where} trains mode {mode_name!r} (off the shelf) from a random init; give it a trained init")
    if mode["lr_head"] != mode["lr_transferred"]:
        fail(
            f"{where} starts from a random init, where no layer is transferred, but mode {mode_name!r} sets "
            f"lr_head {mode['lr_head']:g} and lr_transferred {mode['lr_transferred']:g}; use a mode whose two "
            "rates are equal"
        )
    if mode["frozen"]:
        fail(
            f"{where} starts from a random init but mode {mode_name!r} freezes {mode['frozen']}, which would "
            "stay random; use a mode without frozen layers"
        )


def _check_no_cycle(start: str, runs: dict, fail) -> None:
    seen = [start]
    current = runs[start]["init"]
    while current in runs:
        if current in seen:
            fail(f"runs.{start}.init forms a cycle ({' -> '.join([*seen, current])}); one run must start from an init")
        seen.append(current)
        current = runs[current]["init"]


def _check_findings(config: dict, fail) -> None:
    """Each findings section's k values are in topk, its table rows exist and share a dataset, and an
    architecture's section compares models of that architecture."""
    for where, findings, arch in findings_blocks(config):
        _check_findings_block(config, where, findings, fail, arch)
    outputs = ("figures", "panels", "tables", "comparison_tables", "mode_tables")
    taken = [section for section in outputs if ARCHITECTURES_OUTPUT in config.get(section, {})]
    if config.get("architectures") and taken:
        fail(
            f"{taken[0]}.{ARCHITECTURES_OUTPUT} has the name of the architectures comparison's outputs "
            f"(figures/{ARCHITECTURES_OUTPUT}, tables/{ARCHITECTURES_OUTPUT}); rename it"
        )


def _check_findings_block(config: dict, where: str, findings: dict, fail, arch: str | None = None) -> None:
    """One findings section; an architecture's (``arch``) names pairs and table rows of that architecture only."""
    if arch:
        for key, pair in findings_pairs(findings):
            found = pair_architecture(config, pair)
            if found != arch:
                fail(f"{where}.{key} compares {found} models ({pair[0]}, {pair[1]}); name pairs of {arch} models there")
    ks = config["topk"]
    for key in ("overlap_k", "entropy_k"):
        k = (findings.get("depth") or {}).get(key)
        if k is not None and k not in ks:
            fail(f"{where}.depth.{key} is {k}, which is not in topk {ks}; add it to topk or change it")
    change = findings.get("render_change")
    if change and list(change["pair"]) not in [list(p) for p in config["galleries"]]:
        fail(
            f"{where}.render_change.pair {list(change['pair'])} has no gallery, whose renders it compares; add it "
            f"to galleries (now {[list(p) for p in config['galleries']]})"
        )
    if change and not config["render"].get("sample"):
        fail(f"{where}.render_change needs channels drawn at random: set render.sample (channels per layer), e.g. 5")
    for section, better, worse in (
        ("fine_tuning", "fine_tuned", "off_the_shelf"),
        ("double_fine_tuning", "double", "direct"),
    ):
        for i, entry in enumerate(findings.get(section, [])):
            at, table = f"{where}.{section}[{i}]", entry["table"]
            if table not in config["tables"]:
                hint = (
                    " (a comparison table has no accuracy to compare)" if table in config["comparison_tables"] else ""
                )
                fail(f"{at}.table is {table!r}, which is not in tables ({choices(config['tables'])}){hint}")
            rows = {row["label"]: row for row in config["tables"][table]["rows"]}
            for key in (better, worse):
                if entry[key] not in rows:
                    fail(
                        f"{at}.{key} is {entry[key]!r}, which is not a row of tables.{table} "
                        f"({', '.join(repr(label) for label in rows)}); use one of those labels"
                    )
            if entry[better] == entry[worse]:
                fail(f"{at} compares row {entry[better]!r} with itself; name two different rows")
            if arch:
                for key in (better, worse):
                    runs = rows[entry[key]]["runs"]
                    others = sorted({run_architecture(config, first_run(config, run)) for run in runs} - {arch})
                    if others:
                        fail(
                            f"{at}.{key} is row {entry[key]!r}, whose runs are {others[0]} models; name a row of "
                            f"{arch} runs there"
                        )
            datasets = [{dataset_of(config, run) for run in rows[entry[key]]["runs"]} for key in (better, worse)]
            if not datasets[0] & datasets[1]:
                fail(
                    f"{at}: rows {entry[better]!r} and {entry[worse]!r} of tables.{table} share no dataset, "
                    "so there is nothing to compare; name rows evaluated on a common dataset"
                )
