"""Write config/kubernetes/prometheusrule.yaml from config/prometheus/sesd.rules.yml:
the Prometheus Operator's form of the same rule groups (a test keeps them equal).

    .venv/bin/python scripts/prometheusrule.py
"""

from __future__ import annotations

import sys
from pathlib import Path

import yaml

ROOT = Path(__file__).resolve().parent.parent
RULES = ROOT / "config" / "prometheus" / "sesd.rules.yml"
TARGET = ROOT / "config" / "kubernetes" / "prometheusrule.yaml"


class _Dumper(yaml.SafeDumper):
    """Multi-line text (a long expression) as a literal block, as the rules file has it."""


def _text(dumper: yaml.SafeDumper, value: str) -> yaml.Node:
    style = "|" if "\n" in value else None
    return dumper.represent_scalar("tag:yaml.org,2002:str", value, style=style)


_Dumper.add_representer(str, _text)


def main() -> int:
    text = TARGET.read_text(encoding="utf-8")
    # The comment and metadata stay as written; the groups are the rules file's.
    head = text[: text.index("spec:\n")]
    groups = yaml.safe_load(RULES.read_text(encoding="utf-8"))["groups"]
    spec = yaml.dump(
        {"spec": {"groups": groups}},
        Dumper=_Dumper,
        sort_keys=False,
        width=10**6,
        allow_unicode=True,
    )
    TARGET.write_text(head + spec, encoding="utf-8")
    return 0


if __name__ == "__main__":
    sys.exit(main())
