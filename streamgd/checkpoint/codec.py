"""Frozen dataclasses to JSON plus named numpy arrays, and back, exactly.

A training state is a tree of frozen dataclasses whose leaves are numpy arrays,
ints, floats, bools, strings and None (and tuples, lists and string-keyed dicts
of those). `encode` walks the tree and returns a JSON-ready description, moving
every array into a dict of named arrays (stored as `.npy` members of an `.npz`);
`decode` rebuilds the tree. Nothing is pickled.

    dataclass  {"dataclass": "streamgd.optim.sgd:SGDState", "fields": {...}}
    array      {"array": "optimizer.velocity"}     dtype and shape kept by .npy
    numpy      {"scalar": "optimizer.beta"}       a 0-d array, its dtype kept
    NaN        {"nan_bits": 9221120237041090560}  sign and payload kept
    tuple      {"tuple": [...]}      dict  {"dict": {...}}      list  [...]
    int, float, bool, str, None      themselves

Floats survive exactly: the `json` module writes the shortest repr that reads
back to the same float64, and infinities as `Infinity`; a NaN keeps its bits. A new
optimizer state therefore needs no code here, as long as it is a frozen
dataclass of such leaves.
"""

from __future__ import annotations

import dataclasses
import importlib
import sys
from typing import Any

import numpy as np

PLAIN = (bool, int, float, str, type(None))


class CodecError(ValueError):
    """A value cannot be encoded, or a description cannot be decoded."""


def encode(value: Any, name: str, arrays: dict[str, np.ndarray]) -> Any:
    """The JSON-ready description of `value`; its arrays go into `arrays`.

    Args:
        value: a dataclass instance, array, or any leaf listed in the module
            docstring, nested at will.
        name: the dotted path of `value`, used to name its arrays.
        arrays: filled with name -> array for every array met.

    Raises:
        CodecError: a value of another type (named by its path).
    """
    if dataclasses.is_dataclass(value) and not isinstance(value, type):
        return _encode_dataclass(value, name, arrays)
    if isinstance(value, np.ndarray):
        if value.dtype.hasobject:
            raise CodecError(f"{name}: arrays of Python objects cannot be stored")
        arrays[name] = value
        return {"array": name}
    if isinstance(value, np.generic):
        arrays[name] = np.asarray(value)
        return {"scalar": name}
    if isinstance(value, float) and value != value:
        # JSON's NaN token drops the sign and payload bits; keep them exactly
        return {"nan_bits": int(np.float64(value).view(np.uint64))}
    if isinstance(value, PLAIN):
        return value
    if isinstance(value, (tuple, list)):
        items = [encode(item, f"{name}.{k}", arrays) for k, item in enumerate(value)]
        return {"tuple": items} if isinstance(value, tuple) else items
    if isinstance(value, dict):
        return {"dict": _encode_dict(value, name, arrays)}
    raise CodecError(
        f"{name}: cannot store a {type(value).__name__}; a state holds frozen"
        " dataclasses of numpy arrays, numbers, strings, None, tuples and dicts"
    )


def _encode_dataclass(value: Any, name: str, arrays: dict[str, np.ndarray]):
    kind = type(value)
    fields = {
        field.name: encode(getattr(value, field.name), f"{name}.{field.name}", arrays)
        for field in dataclasses.fields(value)
    }
    return {"dataclass": f"{kind.__module__}:{kind.__qualname__}", "fields": fields}


def _encode_dict(value: dict, name: str, arrays: dict[str, np.ndarray]):
    if not all(isinstance(key, str) for key in value):
        raise CodecError(f"{name}: only dicts with string keys can be stored")
    return {key: encode(item, f"{name}.{key}", arrays) for key, item in value.items()}


def decode(description: Any, arrays: dict[str, np.ndarray]) -> Any:
    """The value `encode` described; arrays are looked up in `arrays`.

    Raises:
        CodecError: an unknown class, a missing array, or a malformed node.
    """
    if isinstance(description, list):
        return [decode(item, arrays) for item in description]
    if not isinstance(description, dict):
        return description
    if "dataclass" in description:
        return _decode_dataclass(description, arrays)
    if "array" in description or "scalar" in description:
        return _array(description, arrays)
    if "nan_bits" in description:
        return float(np.uint64(description["nan_bits"]).view(np.float64))
    if "tuple" in description:
        return tuple(decode(item, arrays) for item in description["tuple"])
    if "dict" in description:
        return {key: decode(item, arrays) for key, item in description["dict"].items()}
    raise CodecError(f"unknown node {sorted(description)} in a stored state")


def _array(description: dict, arrays: dict[str, np.ndarray]) -> Any:
    name = description.get("array", description.get("scalar"))
    if name not in arrays:
        raise CodecError(f"the stored state lacks its array {name!r}")
    if "scalar" in description:
        return arrays[name][()]
    return arrays[name]


def _decode_dataclass(description: dict, arrays: dict[str, np.ndarray]) -> Any:
    kind = _resolve(description["dataclass"])
    stored = description["fields"]
    expected = {field.name for field in dataclasses.fields(kind)}
    # a field added later with a default: a state stored before it takes that
    defaulted = {field.name for field in dataclasses.fields(kind)
                 if field.default is not dataclasses.MISSING
                 or field.default_factory is not dataclasses.MISSING}
    if not set(stored) <= expected or expected - set(stored) - defaulted:
        raise CodecError(
            f"{kind.__qualname__} has fields {sorted(expected)}, the stored state"
            f" has {sorted(stored)}; it was written by another version"
        )
    values = {key: decode(item, arrays) for key, item in stored.items()}
    return kind(**values)


def _resolve(qualified: str) -> type:
    """The dataclass named `module:qualname`.

    Only streamgd's own modules are imported; a class of another module must
    already be loaded, so that reading a file never runs code it names.
    """
    module_name, _, qualname = qualified.partition(":")
    if module_name.split(".")[0] == "streamgd":
        module = importlib.import_module(module_name)
    elif module_name in sys.modules:
        module = sys.modules[module_name]
    else:
        raise CodecError(f"the stored state names the unknown class {qualified}")
    kind: Any = module
    for part in qualname.split("."):
        kind = getattr(kind, part, None)
    if not (isinstance(kind, type) and dataclasses.is_dataclass(kind)):
        raise CodecError(f"{qualified} is not a dataclass of this streamgd")
    return kind
