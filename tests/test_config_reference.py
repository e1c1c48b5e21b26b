"""The config reference is generated from the schema, and the README's copy of it is the generated one."""

import pytest
import yaml

from artfinetune.cli import main
from artfinetune.errors import UserError
from artfinetune.study.reference import (
    README_END,
    README_START,
    SCHEMA_PATH,
    readme_section,
    reference_from_file,
    reference_markdown,
    update_readme,
)

from .conftest import REPO

SMALL_SCHEMA = {
    "$schema": "https://json-schema.org/draft/2020-12/schema",
    "description": "A toy study.",
    "type": "object",
    "required": ["name"],
    "$defs": {
        "source": {
            "type": "object",
            "required": ["kind"],
            "description": "where the images come from",
            "properties": {"kind": {"enum": ["demo", "csv", "web"]}},
            "allOf": [
                {
                    "if": {"properties": {"kind": {"const": "demo"}}},
                    "then": {"properties": {"kind": {}, "seed": {"type": "integer", "default": 0}}},
                },
                {
                    "if": {"properties": {"kind": {"const": "csv"}}},
                    "then": {
                        "required": ["kind", "table", "root"],
                        "properties": {
                            "kind": {},
                            "table": {"type": "string", "description": "the CSV"},
                            "root": {"type": "string"},
                        },
                    },
                },
                {"if": {"properties": {"kind": {"enum": ["web"]}}}, "then": {"properties": {"kind": {}}}},
            ],
        },
    },
    "properties": {
        "name": {"type": "string", "description": "the study's name, in\n  results/<name>/"},
        "size": {"type": "integer", "minimum": 16, "maximum": 512, "default": 224},
        "render": {
            "type": "object",
            "description": "render settings",
            "default": {"steps": 10, "crop": "center"},
            "properties": {
                "steps": {"type": "integer", "minimum": 1, "default": 2048, "description": "Adam steps"},
                "crop": {"enum": ["center", "random"], "default": "center"},
                "title": {"type": "string", "default": ""},
            },
        },
        "topk": {"type": "array", "items": {"type": "integer", "minimum": 1}, "minItems": 1, "default": [100, 1000]},
        "datasets": {
            "type": "object",
            "minProperties": 1,
            "propertyNames": {"pattern": "^[a-z]+$"},
            "additionalProperties": {
                "type": "object",
                "required": ["source"],
                "properties": {
                    "source": {"$ref": "#/$defs/source"},
                    "share": {"type": "number", "exclusiveMinimum": 0, "exclusiveMaximum": 1, "default": 0.1},
                },
            },
        },
        "rows": {
            "type": "array",
            "items": {
                "type": "object",
                "required": ["label"],
                "properties": {"label": {"type": "string"}, "pair": {"type": "array", "items": {"type": "string"}}},
            },
        },
        "seed": {"oneOf": [{"type": "integer", "minimum": 0}, {"type": "null"}], "default": None},
        "schedule": {
            "anyOf": [
                {"type": "null"},
                {"type": "object", "description": "step decay", "properties": {"every": {"type": "integer"}}},
            ]
        },
    },
}

SMALL_REFERENCE = """\
A toy study.

Required top-level keys: `name`.

In the paths below, `<name>` stands for a name you choose (a dataset, mode, run, ...), matching `^[a-z]+$`, \
and `[]` for each item of a list.

### `name`

the study's name, in `results/<name>/`

Type: string, required.

### `size`

Type: integer ≥ 16, ≤ 512, default `224`.

### `render`

render settings

Type: object, default `{steps: 10, crop: center}`.

- `render.steps` (integer ≥ 1, default `2048`): Adam steps
- `render.crop` (one of `center`, `random`, default `center`)
- `render.title` (string, default `""`)

### `topk`

Type: array of integer ≥ 1, at least 1 item, default `[100, 1000]`.

### `datasets`

Type: object, at least 1 entry.

- `datasets.<name>` (object)
  - `datasets.<name>.source` (object, required): where the images come from
    - `datasets.<name>.source.kind` (one of `demo`, `csv`, `web`, required)
    - when `kind` is `demo`: `seed`
      - `datasets.<name>.source.seed` (integer, default `0`)
    - when `kind` is `csv`: `table`, `root`
      - `datasets.<name>.source.table` (string, required): the CSV
      - `datasets.<name>.source.root` (string, required)
    - when `kind` is `web`: no further keys
  - `datasets.<name>.share` (number > 0, < 1, default `0.1`)

### `rows`

Type: array.

- `rows[]` (object)
  - `rows[].label` (string, required)
  - `rows[].pair` (array of string)

### `seed`

Type: integer ≥ 0 or null, default `null`.

### `schedule`

Type: any of the forms below.

- form 1 (null)
- form 2 (object): step decay
  - `schedule.every` (integer)
"""


def test_a_small_schema_gives_the_expected_markdown():
    assert reference_markdown(SMALL_SCHEMA) == SMALL_REFERENCE


def _key_paths(schema: dict, defs: dict, path: str = "") -> set[str]:
    """Every key path of a schema (properties, then-branches, maps as <name>, list items as [])."""
    if "$ref" in schema:
        schema = {**defs[schema["$ref"].split("/")[-1]], **{k: v for k, v in schema.items() if k != "$ref"}}
    subs = [(f"{path}.{k}" if path else k, s) for k, s in schema.get("properties", {}).items()]
    for branch in schema.get("allOf", []):
        subs += [(f"{path}.{k}", s) for k, s in branch.get("then", {}).get("properties", {}).items()]
    if isinstance(schema.get("additionalProperties"), dict):
        subs.append((f"{path}.<name>", schema["additionalProperties"]))
    paths = {p for p, _ in subs}
    for sub_path, sub in subs:
        paths |= _key_paths(sub, defs, sub_path)
    if isinstance(schema.get("items"), dict):
        paths |= _key_paths(schema["items"], defs, f"{path}[]")
    return paths


def test_every_key_of_the_real_schema_is_in_the_reference():
    schema = yaml.safe_load(SCHEMA_PATH.read_text())
    paths = _key_paths(schema, schema.get("$defs", {}))
    leaves = {p for p in paths if not any(q.startswith(p + ".") or q.startswith(p + "[]") for q in paths)}
    assert {"render.steps", "datasets.<name>.source.table", "comparison_tables.<name>.rows[].label"} <= leaves
    reference = reference_from_file()
    missing = sorted(p for p in paths if f"`{p}`" not in reference and "." in p)
    top_missing = sorted(p for p in paths if "." not in p and f"### `{p}`" not in reference)
    assert not missing and not top_missing


def test_the_readme_holds_the_generated_reference():
    """Run `make docs` (artfinetune config-reference --readme README.md) after changing the schema."""
    text = (REPO / "README.md").read_text()
    assert readme_section(text) == reference_from_file(), "README.md's config reference is stale: run `make docs`"


def _readme(tmp_path, middle: str = "old text\n"):
    path = tmp_path / "README.md"
    path.write_text(f"# Title\n\nbefore\n\n{README_START}\n{middle}{README_END}\n\nafter\n")
    return path


def test_update_readme_replaces_only_the_marked_section_and_is_idempotent(tmp_path):
    path = _readme(tmp_path)
    assert update_readme(path) is True
    text = path.read_text()
    assert text.startswith(f"# Title\n\nbefore\n\n{README_START}\n\n")
    assert text.endswith(f"\n\n{README_END}\n\nafter\n")
    assert "old text" not in text
    assert readme_section(text) == reference_from_file()
    assert update_readme(path) is False
    assert path.read_text() == text


def test_update_readme_without_markers_names_them(tmp_path):
    path = tmp_path / "README.md"
    path.write_text(f"# Title\n\n{README_START}\nno end marker\n")
    with pytest.raises(UserError, match="lacks the config reference markers") as err:
        update_readme(path)
    assert README_START in str(err.value) and README_END in str(err.value)
    assert path.read_text() == f"# Title\n\n{README_START}\nno end marker\n"
    with pytest.raises(UserError, match="markers"):
        readme_section("no markers at all")


def test_the_command_prints_or_rewrites(tmp_path, capsys):
    assert main(["config-reference"]) == 0
    assert capsys.readouterr().out == reference_from_file()
    path = _readme(tmp_path)
    assert main(["config-reference", "--readme", str(path)]) == 0
    assert "updated" in capsys.readouterr().out
    assert main(["config-reference", "--readme", str(path)]) == 0
    assert "already up to date" in capsys.readouterr().out
    path.write_text("no markers\n")
    assert main(["config-reference", "--readme", str(path)]) == 2
    assert "markers" in capsys.readouterr().err
