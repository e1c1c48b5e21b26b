"""Study configuration: schema validation, defaults and cross-reference checks.

The Snakefile calls :func:`prepare_config` at start-up; the CLI and the tests
call :func:`load_config`. Either way a bad config stops with one sentence that
names the key and the fix, before any job runs.
"""

from __future__ import annotations

import copy
import json
from pathlib import Path

import jsonschema
import yaml

from artfinetune.errors import UserError
from artfinetune.model import layers
from artfinetune.tasks import metric_names

REPO_ROOT = Path(__file__).resolve().parents[2]
SCHEMA_PATH = REPO_ROOT / "workflow" / "schemas" / "config.schema.yaml"
RANDOM_INIT = "random"


class ConfigError(UserError):
    """A user-fixable mistake in the study configuration."""


def load_config(path: str | Path) -> dict:
    """Read, validate and complete a config file (see :func:`prepare_config`)."""
    path = Path(path)
    try:
        config = yaml.safe_load(path.read_text())
    except FileNotFoundError:
        raise ConfigError(f"config file {path} does not exist; pass the path of a study config") from None
    except yaml.YAMLError as err:
        raise ConfigError(f"config file {path} is not valid YAML: {err}") from None
    return prepare_config(config or {}, origin=str(path))


def prepare_config(config: dict, origin: str = "the config") -> dict:
    """Validate ``config`` against the schema, fill defaults and check references.

    Returns the completed config (a copy); raises :class:`ConfigError` with one
    sentence naming the offending key and the fix.
    """
    config = copy.deepcopy(config)
    _check_schema(config, origin)
    _fill_defaults(config)
    config = json.loads(json.dumps(config))  # defaults are shared schema objects: unshare them
    _complete_datasets(config, origin)
    check_references(config, origin)
    return config


def _where(path) -> str:
    return ".".join(str(p) for p in path) or "the top level"


def _check_schema(config: dict, origin: str) -> None:
    schema = yaml.safe_load(SCHEMA_PATH.read_text())
    validator = jsonschema.Draft202012Validator(schema)
    error = jsonschema.exceptions.best_match(validator.iter_errors(config))
    if error is not None:
        raise ConfigError(f"{origin}: {_explain(error, _where(error.absolute_path))}")


def _explain(error: jsonschema.ValidationError, where: str) -> str:
    """One sentence for a schema violation at ``where``: what is wrong and what to do."""
    if error.validator == "additionalProperties":
        allowed = sorted(error.schema.get("properties", {}))
        unexpected = sorted(set(error.instance) - set(allowed))
        keys = ", ".join(repr(k) for k in unexpected)
        hint = f" (allowed: {', '.join(allowed)})" if allowed else ""
        msg = f"unknown key {keys} in {where}; remove it or fix its spelling{hint}"
    elif error.validator == "required":
        msg = f"{where} is missing a required key: {error.message}; add it"
    elif error.validator == "type":
        msg = f"{where} has the wrong type: {error.message}; give a value of that type"
    elif error.validator == "pattern" and "description" in error.schema:
        msg = f"{where}: {error.instance!r} is not allowed ({error.schema['description']})"
    else:
        msg = f"{where}: {error.message}; fix this value"
    return msg


def _with_defaults(validator_class):
    """A validator that fills each property's schema default while it validates (jsonschema's FAQ recipe)."""
    validate_properties = validator_class.VALIDATORS["properties"]

    def set_defaults(validator, properties, instance, schema):
        if isinstance(instance, dict):
            for name, sub in properties.items():
                if "default" in sub:
                    instance.setdefault(name, copy.deepcopy(sub["default"]))
        yield from validate_properties(validator, properties, instance, schema)

    return jsonschema.validators.extend(validator_class, {"properties": set_defaults})


def complete_section(definition: str, section: dict, where: str, needs: tuple[str, ...] = ()) -> dict:
    """A config section given on its own (a mode or a dataset as JSON on the command line), checked against the
    schema's ``definition`` (``mode``, ``dataset``), with its defaults filled.

    Keys the schema requires may be left out of a dataset section the rules pass in part; ``needs`` names the
    keys the caller cannot do without. Raises :class:`ConfigError` with one sentence naming ``where``.
    """
    if not isinstance(section, dict):
        raise ConfigError(f"{where} must be a JSON object (the {definition}'s config section), not {section!r}")
    schema = yaml.safe_load(SCHEMA_PATH.read_text())
    sub = {"$schema": schema["$schema"], "$defs": schema["$defs"], "$ref": f"#/$defs/{definition}"}
    section = copy.deepcopy(section)
    validator = _with_defaults(jsonschema.Draft202012Validator)(sub)
    partial = definition == "dataset"  # the rules pass only the keys a job needs
    errors = [e for e in validator.iter_errors(section) if not (partial and e.validator == "required" and not e.path)]
    error = jsonschema.exceptions.best_match(errors)
    if error is not None:
        path = _where(error.absolute_path)
        raise ConfigError(_explain(error, where if path == "the top level" else f"{where}: {path}"))
    missing = [k for k in needs if k not in section]
    if missing:
        raise ConfigError(f"{where} lacks {', '.join(missing)}; give the whole {definition} section of the config")
    return section


def _fill_defaults(config: dict) -> None:
    # snakemake's validate fills the schema's defaults (jsonschema's documented recipe).
    from snakemake.utils import validate

    validate(config, str(SCHEMA_PATH), set_default=True)


def _complete_datasets(config: dict, origin: str) -> None:
    from artfinetune.data import sources

    for name, ds in config["datasets"].items():
        try:
            available = sources.source_classes(ds["source"])
        except FileNotFoundError as err:
            raise ConfigError(f"{origin}: datasets.{name}.source: {err}") from None
        if "classes" not in ds:
            if available is None:
                raise ConfigError(
                    f"{origin}: datasets.{name} needs a 'classes' list (its source does not name its classes)"
                )
            ds["classes"] = list(available)
        elif available is not None:
            unknown = [c for c in ds["classes"] if c not in available]
            if unknown:
                raise ConfigError(
                    f"{origin}: datasets.{name}.classes names {unknown}, which its source does not have; "
                    f"choose from {list(available)}"
                )
        src = ds["source"]
        if src["kind"] == "demo":
            from artfinetune.data.demo import check_splits

            try:
                check_splits(src["generator"], len(ds["classes"]), src["images_per_class"], src["splits"])
            except ValueError as err:
                raise ConfigError(f"{origin}: datasets.{name}.source: {err}") from None
        if ds["store_size"] < config["image_size"]:
            raise ConfigError(
                f"{origin}: datasets.{name}.store_size ({ds['store_size']}) is smaller than image_size "
                f"({config['image_size']}); raise store_size to at least image_size"
            )


def _choices(mapping) -> str:
    return ", ".join(mapping) or "none defined"


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
                fail(f"init.{name} names dataset {init['dataset']!r}, which is not in datasets ({_choices(datasets)})")
            if init["mode"] not in modes:
                fail(f"init.{name} names mode {init['mode']!r}, which is not in modes ({_choices(modes)})")
    ensembles, tables = config["ensembles"], config["tables"]
    for name in runs:
        if name in inits:
            fail(f"run {name!r} has the name of an init; rename one of them")
        if name == "init":
            fail("'init' is reserved for the folder of initial models; rename that run")
    for name, run in runs.items():
        if run["dataset"] not in datasets:
            fail(
                f"runs.{name}.dataset is {run['dataset']!r}, which is not in datasets ({_choices(datasets)}); "
                "add it to datasets or fix the run"
            )
        if run["mode"] not in modes:
            fail(
                f"runs.{name}.mode is {run['mode']!r}, which is not in modes ({_choices(modes)}); "
                "add it to modes or fix the run"
            )
        init = run["init"]
        if init != RANDOM_INIT and init not in inits and init not in runs:
            fail(
                f"runs.{name}.init is {init!r}, which is neither 'random', an init ({_choices(inits)}) "
                f"nor a run; fix the name or add that run"
            )
    for name in runs:
        _check_no_cycle(name, runs, fail)
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
    for name, mode in modes.items():
        for key in ("frozen", "reinit"):
            try:
                layers.expand_layers(mode[key])
            except ValueError as err:
                fail(f"modes.{name}.{key}: {err}")
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
        try:
            layers.check_layer(layer, layers.STUDY_LAYERS)
        except ValueError as err:
            fail(f"layers: {err}")
    for tensor in config["tensors"]:
        try:
            layers.check_layer(tensor)
        except ValueError as err:
            fail(f"tensors: {err}")
    _check_channels("render.channels", config["render"]["channels"], fail)
    _check_pairs(config, fail)
    _check_findings(config, fail)


def _check_channels(where: str, channels: list[str], fail) -> None:
    for channel in channels:
        try:
            layers.parse_channel(channel)
        except ValueError as err:
            fail(f"{where}: {err}")


def _named_pairs(config: dict):
    """Every (where, pair) the config names: comparisons, figures, comparison tables, galleries, panels, findings."""
    for i, pair in enumerate(config["comparisons"]):
        yield f"comparisons[{i}]", pair
    for name, figure in config["figures"].items():
        for i, pair in enumerate(figure.get("pairs", [])):
            yield f"figures.{name}.pairs[{i}]", pair
        if "pair" in figure:
            yield f"figures.{name}.pair", figure["pair"]
    for name, table in config["comparison_tables"].items():
        for r, row in enumerate(table["rows"]):
            for i, pair in enumerate(row["pairs"]):
                yield f"comparison_tables.{name}.rows[{r}].pairs[{i}]", pair
    for i, pair in enumerate(config["galleries"]):
        yield f"galleries[{i}]", pair
    for name, panel in config["panels"].items():
        for i, pair in enumerate(panel["pairs"]):
            yield f"panels.{name}.pairs[{i}]", pair
    findings = config.get("findings") or {}
    if "depth" in findings:
        yield "findings.depth.pair", findings["depth"]["pair"]
    for group, pairs in (findings.get("init_distance") or {}).items():
        for i, pair in enumerate(pairs):
            yield f"findings.init_distance.{group}[{i}]", pair


def _check_pairs(config: dict, fail) -> None:
    ids = {}
    for where, pair in _named_pairs(config):
        for model in pair:
            try:
                parse_model(model, config)
            except ValueError as err:
                fail(f"{where}: {err}")
        if pair[0] == pair[1]:
            fail(f"{where} compares {pair[0]} with itself; name two different models")
        if pair_dataset(config, pair) is None:
            fail(f"{where} names no run ({pair[0]}, {pair[1]}), so no dataset to compare them on; include a run")
        ident = pair_id(pair)
        if ids.setdefault(ident, tuple(pair)) != tuple(pair):
            fail(f"{where}: the pairs {list(ids[ident])} and {pair} share the folder name {ident}; rename a run")
    ks = config["topk"]
    for name, figure in config["figures"].items():
        for key in ("overlap_k", "entropy_k"):
            if key in figure and figure[key] not in ks:
                fail(f"figures.{name}.{key} is {figure[key]}, which is not in topk {ks}; add it to topk or change it")
        reference = figure.get("reference")
        if reference and len(reference["values"]) != len(layers.STUDY_LAYERS):
            fail(
                f"figures.{name}.reference gives {len(reference['values'])} values, expected one per study layer "
                f"({', '.join(layers.STUDY_LAYERS)})"
            )
    for name, panel in config["panels"].items():
        if name in config["figures"]:
            fail(f"panels.{name} has the name of a figure; rename one (both write figures/{name})")
        _check_channels(f"panels.{name}.channels", panel["channels"], fail)
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


def pair_id(pair) -> str:
    """A pair's folder name: ``imagenet_vs_styles_A.1`` ('.' cannot occur in a name, '/' would nest folders)."""
    return "_vs_".join(model.replace("/", ".") for model in pair)


def model_dataset(config: dict, model: str) -> str | None:
    """The dataset a model was trained on (None for an init, which has no dataset of the study's runs)."""
    parsed = parse_model(model, config)
    return config["runs"][parsed["run"]]["dataset"] if "run" in parsed else None


def pair_dataset(config: dict, pair) -> str | None:
    """The images two models are compared on: the second model's dataset, or the first's if the second is an init."""
    return model_dataset(config, pair[1]) or model_dataset(config, pair[0])


def analysis_pairs(config: dict) -> list[tuple[str, str]]:
    """Every pair to measure, once each, in the order the config names them."""
    return list(dict.fromkeys(tuple(pair) for _, pair in _named_pairs(config)))


def analysis_tensors(config: dict) -> list[str]:
    """Tensors whose activations are extracted, after ReLU: the layers, then the extra and rendered tensors."""
    named = [*config["render"]["channels"], *(c for panel in config["panels"].values() for c in panel["channels"])]
    rendered = [layers.parse_channel(c)[0] for c in named]
    return list(dict.fromkeys(layers.post_relu(t) for t in [*config["layers"], *config["tensors"], *rendered]))


def dataset_of(config: dict, run_or_ensemble: str) -> str:
    """The dataset a run (or an ensemble, whose runs share one) is trained and evaluated on."""
    ensemble = config["ensembles"].get(run_or_ensemble)
    run = ensemble["runs"][0] if ensemble else run_or_ensemble
    return config["runs"][run]["dataset"]


def metrics_of(config: dict, run_or_ensemble: str) -> list[str]:
    """The metrics reported for a run or ensemble (those of its dataset's task)."""
    ds = config["datasets"][dataset_of(config, run_or_ensemble)]
    return metric_names(ds["task"], len(ds["classes"]))


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


def parse_model(model: str, config: dict) -> dict:
    """Parse a model name: an init (``imagenet``), ``run/seed`` or ``run/seed/init``."""
    parts = model.split("/")
    if len(parts) == 1:
        if parts[0] in config["init"]:
            return {"init": parts[0]}
        raise ValueError(
            f"model {model!r} is not an init ({_choices(config['init'])}); write run/seed for a trained model"
        )
    run, seed, *rest = parts
    if run not in config["runs"]:
        raise ValueError(f"model {model!r} names run {run!r}, which is not in runs ({_choices(config['runs'])})")
    if not seed.isdigit() or int(seed) not in config["seeds"]:
        raise ValueError(f"model {model!r} names seed {seed!r}, which is not in seeds {config['seeds']}")
    if rest not in ([], ["init"]):
        raise ValueError(f"model {model!r} must be run/seed or run/seed/init")
    return {"run": run, "seed": int(seed), "initial": bool(rest)}


def _check_findings(config: dict, fail) -> None:
    """The findings' k values are in topk, and the table rows they compare exist and share a dataset."""
    findings = config.get("findings") or {}
    ks = config["topk"]
    for key in ("overlap_k", "entropy_k"):
        k = (findings.get("depth") or {}).get(key)
        if k is not None and k not in ks:
            fail(f"findings.depth.{key} is {k}, which is not in topk {ks}; add it to topk or change it")
    for section, better, worse in (
        ("fine_tuning", "fine_tuned", "off_the_shelf"),
        ("double_fine_tuning", "double", "direct"),
    ):
        for i, entry in enumerate(findings.get(section, [])):
            where, table = f"findings.{section}[{i}]", entry["table"]
            if table not in config["tables"]:
                hint = (
                    " (a comparison table has no accuracy to compare)" if table in config["comparison_tables"] else ""
                )
                fail(f"{where}.table is {table!r}, which is not in tables ({_choices(config['tables'])}){hint}")
            rows = {row["label"]: row for row in config["tables"][table]["rows"]}
            for key in (better, worse):
                if entry[key] not in rows:
                    fail(
                        f"{where}.{key} is {entry[key]!r}, which is not a row of tables.{table} "
                        f"({', '.join(repr(label) for label in rows)}); use one of those labels"
                    )
            if entry[better] == entry[worse]:
                fail(f"{where} compares row {entry[better]!r} with itself; name two different rows")
            datasets = [{dataset_of(config, run) for run in rows[entry[key]]["runs"]} for key in (better, worse)]
            if not datasets[0] & datasets[1]:
                fail(
                    f"{where}: rows {entry[better]!r} and {entry[worse]!r} of tables.{table} share no dataset, "
                    "so there is nothing to compare; name rows evaluated on a common dataset"
                )
