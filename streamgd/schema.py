"""The job schema, generated from the one table of keys (`config.FIELDS`).

    streamgd config --schema               JSON Schema of a YAML job (for editors)
    streamgd config --schema --markdown    the README's configuration reference
    python scripts/config_reference.py     rewrite that README section in place

Nothing here is written by hand: a key added to `FIELDS` appears in both, with
its type, default, allowed values and meaning. A value check of the table is
described by the message it gives for NaN ("must be > 0"): the table's numeric
checks are comparisons, and every comparison with NaN is false. The JSON Schema
bounds are read from that message.
"""

from __future__ import annotations

import json
import math
import re
from typing import Any

from streamgd.config import FIELDS, Field

README_BEGIN = (
    "<!-- BEGIN config reference: generated from streamgd/config.py FIELDS;"
    " regenerate with `python scripts/config_reference.py` -->"
)
README_END = "<!-- END config reference -->"

_TYPE_NAMES = {str: "string", int: "integer", float: "number", bool: "boolean",
               list: "array"}
_BOUNDS = (
    (re.compile(r"must be >= (\S+)$"), lambda a: {"minimum": a}),
    (re.compile(r"must be > (\S+)$"), lambda a: {"exclusiveMinimum": a}),
    (re.compile(r"must be between (\S+) and (\S+)$"),
     lambda a, b: {"minimum": a, "maximum": b}),
    (re.compile(r"must be in \[(\S+), (\S+)\)$"),
     lambda a, b: {"minimum": a, "exclusiveMaximum": b}),
    (re.compile(r"must be in \((\S+), (\S+)\]$"),
     lambda a, b: {"exclusiveMinimum": a, "maximum": b}),
)


def type_names(field: Field) -> list[str]:
    """JSON type names of a key; int and float together make "number"."""
    kinds = field.kind if isinstance(field.kind, tuple) else (field.kind,)
    names = list(dict.fromkeys(_TYPE_NAMES[kind] for kind in kinds))
    if "integer" in names and "number" in names:
        names.remove("integer")
    return names


def constraint(field: Field) -> str | None:
    """The check's rule in words ("must be > 0"), or None without a numeric check."""
    kinds = field.kind if isinstance(field.kind, tuple) else (field.kind,)
    if field.check is None or not {int, float} & set(kinds):
        return None
    try:
        return field.check(math.nan)
    except TypeError:
        return None


def json_schema() -> dict[str, Any]:
    """A JSON Schema (draft 2020-12) of a job: nested objects, no unknown key."""
    root = _object("A streamgd training job (YAML).")
    for field in FIELDS:
        node = root
        *sections, leaf = field.path.split(".")
        for section in sections:
            node = node["properties"].setdefault(section, _object(None))
        node["properties"][leaf] = _property(field)
    root["$schema"] = "https://json-schema.org/draft/2020-12/schema"
    return root


def _object(description: str | None) -> dict[str, Any]:
    node: dict[str, Any] = {"type": "object", "additionalProperties": False,
                            "properties": {}}
    if description:
        node["description"] = description
    return node


def _property(field: Field) -> dict[str, Any]:
    names = type_names(field) + (["null"] if field.nullable else [])
    node: dict[str, Any] = {"type": names[0] if len(names) == 1 else names,
                            "default": field.default, "description": field.doc}
    if field.choices is not None:
        node["enum"] = list(field.choices)
    rule = constraint(field)
    for pattern, bounds in _BOUNDS if rule else ():
        match = pattern.match(rule)
        if match:
            node.update(bounds(*(json.loads(value) for value in match.groups())))
            break
    return node


def markdown() -> str:
    """The configuration reference: one table per section, every key."""
    lines = ["| key | type | default | meaning |", "|---|---|---|---|"]
    for field in FIELDS:
        meaning = field.doc
        if field.choices is not None:
            meaning += "; one of " + ", ".join(f"`{c}`" for c in field.choices)
        rule = constraint(field)
        if rule:
            meaning += f"; {rule}"
        kind = " or ".join(type_names(field)) + (" or null" if field.nullable else "")
        lines.append(f"| `{field.path}` | {kind} | `{_yaml(field.default)}` |"
                     f" {meaning.replace('|', '/')} |")
    return "\n".join(lines) + "\n"


def _yaml(value: Any) -> str:
    """A default as it would be written in the YAML job."""
    return json.dumps(value)


def readme_section() -> str:
    """The README's generated section, markers included."""
    return f"{README_BEGIN}\n\n{markdown()}\n{README_END}"


def replace_readme_section(text: str) -> str:
    """`text` (the README) with its generated section replaced by a fresh one.

    Raises:
        ValueError: the markers are missing or out of order.
    """
    begin, end = text.find(README_BEGIN), text.find(README_END)
    if begin < 0 or end < begin:
        raise ValueError(
            "README has no generated config section; put the two marker lines"
            f" where it belongs:\n{README_BEGIN}\n{README_END}"
        )
    return text[:begin] + readme_section() + text[end + len(README_END):]
