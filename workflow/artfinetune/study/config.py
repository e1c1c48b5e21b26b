"""Study configuration: schema validation, defaults, and the cross-reference checks of :mod:`.checks`.

The Snakefile calls :func:`prepare_config` at start-up; the CLI and the tests
call :func:`load_config`. Either way a bad config stops with one sentence that
names the key and the fix, before any job runs. Every default, the schema's and
those computed from other keys (the k of a figure or a finding), is filled here,
once, so no stage recomputes one.
"""

from __future__ import annotations

import copy
import functools
import json
import os
from pathlib import Path

import jsonschema
import yaml

from artfinetune.errors import ConfigError
from artfinetune.study.checks import check_references
from artfinetune.study.names import findings_blocks

REPO_ROOT = Path(__file__).resolve().parents[3]
SCHEMA_PATH = REPO_ROOT / "workflow" / "schemas" / "config.schema.yaml"
# The config's reader_workers as the Snakefile hands it to the jobs that read stores (train, pretrain,
# activations): an environment variable rather than an option in their commands, because the number of
# workers changes only the speed, and a changed command or param makes Snakemake rerun a built study's trainings.
READER_WORKERS_ENV = "ARTFT_READER_WORKERS"


def load_schema() -> dict:
    """The config schema (a fresh copy: callers may fill defaults into what they take from it)."""
    return copy.deepcopy(_parsed_schema())


@functools.lru_cache(maxsize=1)
def _parsed_schema() -> dict:
    # Parsed once per process, by LibYAML where PyYAML has it: the workflow's start-up checks every mode and
    # dataset against the schema, and a pure-Python parse of it took 0.3 s each time.
    return yaml.load(SCHEMA_PATH.read_text(encoding="utf-8"), Loader=getattr(yaml, "CSafeLoader", yaml.SafeLoader))


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
    fill_k_defaults(config)
    _complete_datasets(config, origin)
    check_references(config, origin)
    return config


def reader_workers_from_env() -> int:
    """The reader workers the workflow set for this job (:data:`READER_WORKERS_ENV`), 1 when unset."""
    text = os.environ.get(READER_WORKERS_ENV, "").strip() or "1"
    if not text.isdigit() or int(text) < 1:
        raise ConfigError(f"{READER_WORKERS_ENV} is {text!r}; set it to a whole number of at least 1, or unset it")
    return int(text)


def _where(path) -> str:
    return ".".join(str(p) for p in path) or "the top level"


def _check_schema(config: dict, origin: str) -> None:
    schema = load_schema()
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
    schema = load_schema()
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


def fill_k_defaults(config: dict) -> None:
    """The k values left out of the config: the depth finding's overlap at the smallest ``topk`` and entropy at
    the largest; a top-k figure's box panels, mosaics, galleries and the changed-channel choice (``render.k``) at
    the smallest. An entropy panel shows its pair's second model unless it names one."""
    smallest, largest = min(config["topk"]), max(config["topk"])
    config["render"].setdefault("k", smallest)
    for _, findings, _ in findings_blocks(config):
        if findings.get("depth"):
            findings["depth"].setdefault("overlap_k", smallest)
            findings["depth"].setdefault("entropy_k", largest)
    for figure in config["figures"].values():
        for box in figure.get("boxes", []):
            box.setdefault("k", smallest)  # the paper's figures 6, 14 and 15 are all top-100
            if box["metric"] == "entropy":
                box.setdefault("model", box["pair"][1])


def complete_dataset(section: dict, where: str, needs: tuple[str, ...] = ()) -> dict:
    """A dataset section given on its own (the rules pass the keys a job needs), checked, its defaults filled and,
    where the job needs them and the section leaves them out, its source's classes."""
    from artfinetune.data.sources import source_classes

    ds = complete_section("dataset", section, where)
    if "classes" in needs and "classes" not in ds and "source" in ds:
        ds["classes"] = source_classes(ds["source"])  # None when the source does not name its classes
        if ds["classes"] is None:
            raise ConfigError(f"{where} needs a 'classes' list (its source does not name its classes)")
    return complete_section("dataset", ds, where, needs)


def dataset_from_config(path: str | Path, name: str) -> dict:
    """The completed section of dataset ``name`` of the study config at ``path``."""
    config = load_config(path)
    if name not in config["datasets"]:
        raise ConfigError(f"dataset {name!r} is not in {path}; choose from {list(config['datasets'])}")
    return config["datasets"][name]


def config_overview(config: dict, origin: str, show: bool = False) -> str:
    """One line on a valid config's size (``artfinetune check-config``) and, with ``show``, the completed config."""
    text = (
        f"{origin}: valid ({len(config['datasets'])} datasets, {len(config['modes'])} modes, "
        f"{len(config['runs'])} runs x {len(config['seeds'])} seeds)"
    )
    if show:
        text += "\n" + yaml.safe_dump(config, sort_keys=False, allow_unicode=True)
    return text
