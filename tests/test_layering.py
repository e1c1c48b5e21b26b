"""Imports point one way: basics, then data and model, then config, then the stages, then the CLI."""

import ast
from pathlib import Path

PACKAGE = Path(__file__).resolve().parents[1] / "workflow" / "artfinetune"
# Level of each top-level module or subpackage; a module may import only from its own level or below.
LEVELS = {
    "errors": 0,
    "io": 0,
    "tasks": 0,
    "data": 1,
    "model": 1,
    "config": 2,
    "paths": 2,
    "cli": 4,
    "__main__": 4,
}
STAGE_LEVEL = 3  # train, render, gpu, lucid_compat and the analysis stages


def level(parts: tuple[str, ...]) -> int:
    return LEVELS.get(parts[0], STAGE_LEVEL)


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


def test_imports_never_point_up():
    upward = []
    for path in sorted(PACKAGE.rglob("*.py")):
        own = path.relative_to(PACKAGE).with_suffix("").parts
        for module in imported_modules(path):
            target = tuple(module.split(".")[1:])
            if target and level(target) > level(own):
                upward.append(f"{'/'.join(own)} imports {module}")
    assert not upward, "imports pointing up a level: " + "; ".join(upward)


def test_the_check_sees_an_upward_import(tmp_path, monkeypatch):
    """The walker finds function-level imports (the kind that hid config -> train before)."""
    fake = tmp_path / "config.py"
    fake.write_text("def f():\n    from artfinetune.train.metrics import evaluate_predictions\n")
    modules = list(imported_modules(fake))
    assert modules == ["artfinetune.train.metrics"]
    assert level(("train", "metrics")) > level(("config",))
