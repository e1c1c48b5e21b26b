"""The study's vocabulary: models, pairs and what each is compared on, the tensors and channels a study shows.

A **model** is an init (``imagenet``), ``run/seed`` (a trained run) or ``run/seed/init`` (the run's starting
weights); a **pair** is two models compared on one dataset's images; a **channel** is ``tensor:index`` as Lucid
names tensors (``mixed4d_3x3_pre_relu:52``). Plain functions of the completed config (:mod:`artfinetune.study.config`).
"""

from __future__ import annotations

from artfinetune.data.tasks import metric_names
from artfinetune.model import layers
from artfinetune.model.architectures import DEFAULT as DEFAULT_ARCHITECTURE
from artfinetune.model.architectures import architecture

RANDOM_INIT = "random"
# The metric files every pair gets, one rule each (``comparisons/<dataset>/<pair>/<name>.csv``): adding a pair metric
# is its formula in ``metrics/``, a stage function, a rule in ``metrics.smk`` and its name here.
PAIR_METRICS = ("cka", "l2", "overlap")
# The name of the architectures comparison's figure and table (``figures/architectures.png``, ``tables/...``).
ARCHITECTURES_OUTPUT = "architectures"


def choices(mapping) -> str:
    """The names of a config section, for an error message."""
    return ", ".join(mapping) or "none defined"


def pair_label(pair) -> str:
    """How a pair is named in figures, tables, captions and findings: ``imagenet vs styles_A/1``."""
    return f"{pair[0]} vs {pair[1]}"


def pairs_text(pairs) -> str:
    """Several pairs in one line: ``a vs b; c vs d``."""
    return "; ".join(pair_label(pair) for pair in pairs)


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
    """Every pair to measure, once each: the pairs the config names, in its order, then the seed variants
    (:func:`seed_variants`) of those whose spread across seeds a figure, table or finding shows."""
    named = [tuple(pair) for _, pair in named_pairs(config)]
    variants = [v for pair in spread_pairs(config) for v in seed_variants(config, pair)]
    return list(dict.fromkeys(named + variants))


def seed_variants(config: dict, pair) -> list[tuple[str, str]]:
    """The same comparison with other trainings: the pair with the seed of each of its trained models (``run/seed``,
    ``run/seed/init``) replaced by each other seed that all of its runs were trained with, in the study's order.

    None for a pair of inits, and none for a pair whose trained models have different seeds (``A/1`` vs ``A/2``:
    two trainings compared, itself the paper's estimate of the seed-to-seed spread).
    """
    trained = [model.split("/") for model in pair if "/" in model]
    seeds = {int(parts[1]) for parts in trained}
    if len(seeds) != 1:
        return []
    (own,) = seeds
    runs = {parts[0] for parts in trained}
    others = [s for s in config["seeds"] if s != own and all(s in run_seeds(config, run) for run in runs)]

    def with_seed(model: str, seed: int) -> str:
        parts = model.split("/")
        return "/".join([parts[0], str(seed), *parts[2:]]) if len(parts) > 1 else model

    return [tuple(with_seed(model, s) for model in pair) for s in others]


def spread_pairs(config: dict) -> list[tuple[str, str]]:
    """The pairs whose spread across seeds is shown: figure 5's (cka figures), tables 2 and 4's (comparison tables)
    and those of the depth and init-distance findings."""
    pairs = [p for figure in config["figures"].values() if figure["kind"] == "cka" for p in figure["pairs"]]
    pairs += [p for table in config["comparison_tables"].values() for row in table["rows"] for p in row["pairs"]]
    for _, findings, _ in findings_blocks(config):
        if "depth" in findings:
            pairs.append(findings["depth"]["pair"])
        pairs += [p for group in (findings.get("init_distance") or {}).values() for p in group]
    return list(dict.fromkeys(tuple(p) for p in pairs))


def findings_blocks(config: dict):
    """Every (where, findings section, architecture) of a config: the study's ``findings`` (architecture None),
    then each architecture's of ``architectures.findings``."""
    yield "findings", config.get("findings") or {}, None
    for arch, findings in ((config.get("architectures") or {}).get("findings") or {}).items():
        yield f"architectures.findings.{arch}", findings, arch


def analysis_layers(config: dict, arch_name: str = DEFAULT_ARCHITECTURE) -> list[str]:
    """The analysis layers of an architecture's models: those of the config's ``layers`` that are its, or, if it has
    none there, all its analysis layers (:data:`Architecture.study_layers`), in the config's order."""
    own = architecture(arch_name)
    listed = [layer for layer in config["layers"] if layer in own.widths]
    return listed or list(own.study_layers)


def pairs_layers(config: dict, pairs) -> list[str]:
    """The analysis layers a figure of ``pairs`` shows: those of each of its pairs' architectures (for a study of
    InceptionV1s, the config's ``layers``)."""
    archs = dict.fromkeys(pair_architecture(config, pair) for pair in pairs) or [DEFAULT_ARCHITECTURE]
    return [layer for arch in archs for layer in analysis_layers(config, arch)]


def analysis_tensors(config: dict, arch_name: str = DEFAULT_ARCHITECTURE) -> list[str]:
    """Tensors whose activations are extracted from an architecture's models, after ReLU: its layers
    (:func:`analysis_layers`), then the extra and rendered tensors of that architecture (the panels' in the order of
    the panels' names: the list, a rule param, does not depend on how the config orders its mappings)."""
    panels = [config["panels"][name] for name in sorted(config["panels"])]
    named = [*config["render"]["channels"], *(c["channel"] for panel in panels for c in panel["columns"])]
    rendered = [layers.parse_channel(c)[0] for c in named]
    widths = architecture(arch_name).widths
    extra = [t for t in [*config["tensors"], *rendered] if t in widths]
    return list(dict.fromkeys(layers.post_relu(t) for t in [*analysis_layers(config, arch_name), *extra]))


def dataset_of(config: dict, run_or_ensemble: str) -> str:
    """The dataset a run (or an ensemble, whose runs share one) is trained and evaluated on."""
    return config["runs"][first_run(config, run_or_ensemble)]["dataset"]


def first_run(config: dict, run_or_ensemble: str) -> str:
    """A run, or an ensemble's first run (an ensemble's runs share a dataset)."""
    ensemble = config["ensembles"].get(run_or_ensemble)
    return ensemble["runs"][0] if ensemble else run_or_ensemble


def run_seeds(config: dict, run_or_ensemble: str) -> list[int]:
    """The seeds a run is trained with (its own ``seeds``, else the study's), in the study's order; an ensemble's
    are those all its runs share."""
    ensemble = config.get("ensembles", {}).get(run_or_ensemble)
    runs = ensemble["runs"] if ensemble else [run_or_ensemble]
    own = [set(config["runs"][r].get("seeds", config["seeds"])) for r in runs]
    return [s for s in config["seeds"] if all(s in seeds for seeds in own)]


def metrics_of(config: dict, run_or_ensemble: str) -> list[str]:
    """The metrics reported for a run or ensemble (those of its dataset's task)."""
    ds = config["datasets"][dataset_of(config, run_or_ensemble)]
    return metric_names(ds["task"], len(ds["classes"]))


def parse_model(model: str, config: dict) -> dict:
    """Parse a model name: an init (``imagenet``), ``run/seed`` or ``run/seed/init``."""
    parts = model.split("/")
    if len(parts) == 1:
        if parts[0] in config["init"]:
            return {"init": parts[0]}
        raise ValueError(
            f"model {model!r} is not an init ({choices(config['init'])}); write run/seed for a trained model"
        )
    run, seed, *rest = parts
    if run not in config["runs"]:
        raise ValueError(f"model {model!r} names run {run!r}, which is not in runs ({choices(config['runs'])})")
    if not seed.isdigit() or int(seed) not in config["seeds"]:
        raise ValueError(f"model {model!r} names seed {seed!r}, which is not in seeds {config['seeds']}")
    if int(seed) not in run_seeds(config, run):
        raise ValueError(
            f"model {model!r} names seed {seed}, but run {run!r} is trained with seeds {run_seeds(config, run)} "
            f"(runs.{run}.seeds); add the seed there or name another"
        )
    if rest not in ([], ["init"]):
        raise ValueError(f"model {model!r} must be run/seed or run/seed/init")
    return {"run": run, "seed": int(seed), "initial": bool(rest)}


def init_architecture(init: dict) -> str:
    """The architecture of an init: Lucid's graph is an InceptionV1, a Keras application's weights are its own, a
    pretrained init is the one it names (InceptionV1 by default)."""
    if init["kind"] == "lucid":
        return DEFAULT_ARCHITECTURE
    return init.get("architecture") or DEFAULT_ARCHITECTURE


def run_architecture(config: dict, run: str) -> str:
    """The architecture of a run's models: its init's (through any chain of runs), or from a random init the run's
    own ``architecture`` (InceptionV1 by default)."""
    seen = []
    while run not in seen:
        seen.append(run)
        spec = config["runs"][run]
        init = spec["init"]
        if init == RANDOM_INIT:
            return spec.get("architecture") or DEFAULT_ARCHITECTURE
        if init in config["init"]:
            return init_architecture(config["init"][init])
        run = init
    raise ValueError(f"runs {' -> '.join(seen)} start from one another in a cycle")


def model_architecture(config: dict, model: str) -> str:
    """The architecture of a model (an init, ``run/seed`` or ``run/seed/init``)."""
    parsed = parse_model(model, config)
    if "init" in parsed:
        return init_architecture(config["init"][parsed["init"]])
    return run_architecture(config, parsed["run"])


def pair_architecture(config: dict, pair) -> str:
    """The architecture of a pair's models (one for both: the config checks it)."""
    return model_architecture(config, pair[0])


def frozen_layers(config: dict, model: str) -> list[str]:
    """The study layers a model kept frozen from its init, where it is that init by construction (network order):
    a trained run's mode's ``frozen`` layers, every layer off the shelf; none for an init or a run's starting
    weights (``run/seed/init``), which are not trained."""
    parsed = parse_model(model, config)
    if "run" not in parsed or parsed["initial"]:
        return []
    arch = architecture(run_architecture(config, parsed["run"]))
    return layers.mode_frozen_layers(config["modes"][config["runs"][parsed["run"]]["mode"]], arch.study_layers)


def named_pairs(config: dict):
    """Every (where, pair) the config names: comparisons, figures, comparison tables, galleries, panels, findings."""
    for i, pair in enumerate(config["comparisons"]):
        yield f"comparisons[{i}]", pair
    for name, figure in config["figures"].items():
        for i, pair in enumerate(figure.get("pairs", [])):
            yield f"figures.{name}.pairs[{i}]", pair
        for i, box in enumerate(figure.get("boxes", [])):
            yield f"figures.{name}.boxes[{i}].pair", box["pair"]
    for name, table in config["comparison_tables"].items():
        for r, row in enumerate(table["rows"]):
            for i, pair in enumerate(row["pairs"]):
                yield f"comparison_tables.{name}.rows[{r}].pairs[{i}]", pair
    for i, pair in enumerate(config["galleries"]):
        yield f"galleries[{i}]", pair
    for name, panel in config["panels"].items():
        for i, column in enumerate(panel["columns"]):
            yield f"panels.{name}.columns[{i}].pair", column["pair"]
    for where, findings, _ in findings_blocks(config):
        for key, pair in findings_pairs(findings):
            yield f"{where}.{key}", pair


def findings_pairs(findings: dict):
    """Every (key, pair) a findings section names: ``depth.pair``, ``init_distance.<group>[i]``,
    ``render_change.pair``."""
    if "depth" in findings:
        yield "depth.pair", findings["depth"]["pair"]
    for group, pairs in (findings.get("init_distance") or {}).items():
        for i, pair in enumerate(pairs):
            yield f"init_distance.{group}[{i}]", pair
    if "render_change" in findings:
        yield "render_change.pair", findings["render_change"]["pair"]


def pairs_by_id(config: dict) -> dict[str, tuple[str, str]]:
    """Every pair to measure, by folder name (:func:`pair_id`)."""
    return {pair_id(pair): pair for pair in analysis_pairs(config)}


def analysis_models(config: dict) -> list[tuple[str, str]]:
    """Every (dataset, model) whose activations some pair needs."""
    out = []
    for pair in analysis_pairs(config):
        dataset = pair_dataset(config, pair)
        out += [(dataset, model) for model in pair]
    return list(dict.fromkeys(out))
