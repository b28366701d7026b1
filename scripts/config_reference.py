"""Rewrite the README's configuration reference from the job schema.

    python scripts/config_reference.py            rewrite README.md in place
    python scripts/config_reference.py --check    exit 1 if it is out of date

The section between the two marker lines is generated from `config.FIELDS`
(see `streamgd.schema`); run this after adding or changing a job key.
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from streamgd.atomic import write_atomic  # noqa: E402
from streamgd.schema import replace_readme_section  # noqa: E402


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--check", action="store_true",
                        help="only check; exit 1 when the README is out of date")
    parser.add_argument("--readme", type=Path, default=ROOT / "README.md")
    args = parser.parse_args()
    text = args.readme.read_text()
    fresh = replace_readme_section(text)
    if fresh == text:
        print(f"{args.readme}: configuration reference is up to date")
        return 0
    if args.check:
        print(f"{args.readme}: configuration reference is out of date;"
              " run python scripts/config_reference.py", file=sys.stderr)
        return 1
    write_atomic(args.readme, fresh)
    print(f"{args.readme}: configuration reference rewritten")
    return 0


if __name__ == "__main__":
    sys.exit(main())
