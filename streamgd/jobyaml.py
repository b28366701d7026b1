"""The YAML dialect of a job: numbers as people write them, no duplicate keys.

PyYAML follows YAML 1.1, where a float needs a dot and a signed exponent:
`1e-3` and `1E5` stay strings, so `learning_rate: 1e-3` failed as "must be
int or float, got str". YAML 1.2 reads them as floats; this loader adds that
one rule. A key given twice in one mapping (two `data:` sections) silently
kept the last one; here it is an error naming the key and its line.
"""

from __future__ import annotations

import re
from typing import Any

import yaml

# YAML 1.2 core schema float, minus the forms 1.1 already reads (.inf, .nan)
_FLOAT_1_2 = re.compile(
    r"^[-+]?(?:[0-9][0-9_]*(?:\.[0-9_]*)?|\.[0-9_]+)[eE][-+]?[0-9]+$"
)


class DuplicateKeyError(yaml.constructor.ConstructorError):
    """A key given twice in one mapping; its mark is the second one."""


class JobLoader(yaml.SafeLoader):
    """SafeLoader with YAML 1.2 exponent floats and duplicate keys refused."""

    def construct_mapping(self, node: yaml.Node, deep: bool = False) -> dict:
        if isinstance(node, yaml.MappingNode):
            seen: dict[Any, yaml.Node] = {}
            for key_node, _ in node.value:
                key = self.construct_object(key_node, deep=True)
                try:
                    repeated = key in seen
                except TypeError:
                    continue  # an unhashable key: SafeLoader reports it
                if repeated:
                    first = seen[key].start_mark.line + 1
                    raise DuplicateKeyError(
                        f"while reading the mapping that starts on line {first}",
                        None, f"key {key!r} is given twice; keep one",
                        key_node.start_mark,
                    )
                seen[key] = key_node
        return super().construct_mapping(node, deep=deep)


JobLoader.add_implicit_resolver(
    "tag:yaml.org,2002:float", _FLOAT_1_2, list("-+0123456789.")
)


def load_yaml(text: str) -> Any:
    """Parse job YAML text (a file or one `--set` value).

    Raises:
        yaml.YAMLError: invalid YAML or a key given twice (with its mark).
    """
    return yaml.load(text, Loader=JobLoader)
