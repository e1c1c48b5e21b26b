"""Imports point one way, down the pipeline: the base, then each stage in the order data flows, then the CLI.

A stage may use the base, the study package (the config and its vocabulary) and the stages before it, never
one after it: the layout of the package is the pipeline's (README, "Where things live").
"""

import ast
from pathlib import Path

PACKAGE = Path(__file__).resolve().parents[1] / "workflow" / "artfinetune"
# Level of each top-level module or subpackage; a module may import only from its own level or below.
LEVELS = {
    "__init__": 0,
    "errors": 0,
    "io": 0,
    "gpu": 0,
    "cluster": 0,
    "data": 1,
    "model": 2,
    "study": 3,  # below every stage that reads a config; data and model take plain values
    "train": 4,
    "activations": 5,
    "metrics": 6,
    "render": 7,
    "figures": 8,
    "report": 9,
    "cli": 10,
    "gpu_check": 10,  # measures every stage at once (make gpu-check)
    "__main__": 10,
}


def level(parts: tuple[str, ...]) -> int:
    return LEVELS[parts[0]]


def imported_modules(path: Path):
    """Every artfinetune module a file imports, at the top or inside a function."""
    for node in ast.walk(ast.parse(path.read_text())):
        if isinstance(node, ast.ImportFrom) and node.module and node.module.startswith("artfinetune"):
            names = [node.module] + [f"{node.module}.{a.name}" for a in node.names]
            yield next(n for n in reversed(names) if _exists(n)) if any(_exists(n) for n in names) else node.module
        elif isinstance(node, ast.Import):
            yield from (a.name for a in node.names if a.name.startswith("artfinetune"))


def _exists(dotted: str) -> bool:
    rel = Path(*dotted.split(".")[1:])
    return (PACKAGE / rel).with_suffix(".py").exists() or (PACKAGE / rel).is_dir()


def test_every_top_level_module_has_a_level():
    """A new module or package must be placed in the pipeline before it can land."""
    found = {p.stem for p in PACKAGE.glob("*.py")} | {p.name for p in PACKAGE.iterdir() if (p / "__init__.py").exists()}
    assert found == set(LEVELS), f"unplaced: {sorted(found - set(LEVELS))}; gone: {sorted(set(LEVELS) - found)}"


def test_imports_never_point_up():
    upward = []
    for path in sorted(PACKAGE.rglob("*.py")):
        own = path.relative_to(PACKAGE).with_suffix("").parts
        for module in imported_modules(path):
            target = tuple(module.split(".")[1:])
            if target and level(target) > level(own):
                upward.append(f"{'/'.join(own)} imports {module}")
    assert not upward, "imports pointing up a level: " + "; ".join(upward)


def test_the_check_sees_an_upward_import(tmp_path):
    """The walker finds function-level imports (the kind that hid config -> train before), and a stage importing
    a later one is upward."""
    fake = tmp_path / "loop.py"
    fake.write_text("def f():\n    from artfinetune.figures.tables import write_table\n")
    modules = list(imported_modules(fake))
    assert modules == ["artfinetune.figures.tables"]
    assert level(("figures", "tables")) > level(("train", "loop"))
    assert level(("study", "config")) > level(("data", "store"))
