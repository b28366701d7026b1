"""The job schema and the README reference, both generated from config.FIELDS."""

import json
from pathlib import Path

import pytest

from streamgd.cli import main
from streamgd.config import FIELDS, FIELD_BY_PATH, Field
from streamgd.schema import (
    README_BEGIN, README_END, constraint, json_schema, markdown,
    replace_readme_section,
)

README = Path(__file__).resolve().parents[1] / "README.md"


def test_schema_readme_reference_is_up_to_date():
    """The README's configuration reference equals the generated one."""
    text = README.read_text()
    assert replace_readme_section(text) == text, (
        "README.md's configuration reference is out of date with"
        " streamgd/config.py FIELDS; regenerate it with:"
        "  python scripts/config_reference.py"
    )


def test_schema_markdown_has_one_row_per_key():
    """Every key appears once, in table order, with its default and meaning."""
    rows = markdown().splitlines()[2:]
    assert [row.split("`")[1] for row in rows] == [f.path for f in FIELDS]
    batch = next(row for row in rows if row.startswith("| `optimizer.batch_size`"))
    assert batch == ("| `optimizer.batch_size` | integer | `32` |"
                     " rows per update (1 = per-row SGD); must be > 0 |")


def _leaf(schema, path):
    node = schema
    for part in path.split("."):
        node = node["properties"][part]
    return node


def test_schema_json_nests_every_key_with_its_rules():
    """Each key sits under its sections, with type, default, enum and bounds."""
    schema = json_schema()
    for field in FIELDS:
        assert _leaf(schema, field.path)["default"] == field.default
    assert _leaf(schema, "model.type")["enum"] == ["linear", "logistic"]
    l1_ratio = _leaf(schema, "model.l1_ratio")
    assert (l1_ratio["minimum"], l1_ratio["maximum"]) == (0, 1)
    assert _leaf(schema, "optimizer.learning_rate")["exclusiveMinimum"] == 0
    assert _leaf(schema, "data.weight")["type"] == ["string", "null"]
    assert schema["properties"]["data"]["additionalProperties"] is False


def test_schema_constraint_is_the_checks_own_message():
    """A numeric check is described by what it says to a value it refuses."""
    assert constraint(FIELD_BY_PATH["seed"]) == "must be >= 0"
    assert constraint(FIELD_BY_PATH["data.paths"]) is None  # not numeric
    small = Field("x.y", int, 1, "small",
                  check=lambda value: None if value < 9 else "must be < 9")
    assert constraint(small) == "must be < 9"


def test_schema_replace_needs_the_markers():
    """Without the marker lines the README cannot be updated, and says how."""
    with pytest.raises(ValueError, match="marker lines"):
        replace_readme_section("# no markers here\n")
    stale = f"intro\n{README_BEGIN}\nold table\n{README_END}\noutro\n"
    fresh = replace_readme_section(stale)
    assert fresh.startswith("intro\n") and fresh.endswith("\noutro\n")
    assert "old table" not in fresh and markdown() in fresh


def test_cli_config_schema_prints_json_and_markdown(capsys):
    """`config --schema` prints the JSON Schema; with --markdown, the table."""
    assert main(["config", "--schema"]) == 0
    schema = json.loads(capsys.readouterr().out)
    assert _leaf(schema, "shuffle.buffer_rows")["type"] == "integer"
    assert main(["config", "--schema", "--markdown"]) == 0
    assert capsys.readouterr().out == markdown()
