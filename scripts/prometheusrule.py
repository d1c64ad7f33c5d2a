"""Write the Prometheus Operator's form of config/prometheus/sesd.rules.yml (a test keeps
them equal):

- config/kubernetes/prometheusrule.yaml: the same rule groups;
- config/kubernetes-fleet/prometheusrule.yaml: the same, less the alerts whose twin the
  fleet's replicas post to Alertmanager themselves (one notification per incident).

    .venv/bin/python scripts/prometheusrule.py
"""

from __future__ import annotations

import sys
from pathlib import Path
from typing import Any

import yaml

ROOT = Path(__file__).resolve().parent.parent
RULES = ROOT / "config" / "prometheus" / "sesd.rules.yml"
TARGET = ROOT / "config" / "kubernetes" / "prometheusrule.yaml"
FLEET_TARGET = ROOT / "config" / "kubernetes-fleet" / "prometheusrule.yaml"

#: Fleet alerts that a built-in rule of config/kubernetes-fleet/sesd.toml repeats
#: (same metric, window and threshold), with that rule's name: the replicas post the
#: built-in one, which names the delay types, SMTP codes and MTAs.
FLEET_TWINS = {"SesdDelayRatioHigh": "delay-ratio-high"}


class _Dumper(yaml.SafeDumper):
    """Multi-line text (a long expression) as a literal block, as the rules file has it."""


def _text(dumper: yaml.SafeDumper, value: str) -> yaml.Node:
    style = "|" if "\n" in value else None
    return dumper.represent_scalar("tag:yaml.org,2002:str", value, style=style)


_Dumper.add_representer(str, _text)


def fleet_groups(groups: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """``groups`` without the alerts in FLEET_TWINS."""
    return [
        {**group, "rules": [r for r in group["rules"] if r.get("alert") not in FLEET_TWINS]}
        for group in groups
    ]


def _write(target: Path, groups: list[dict[str, Any]]) -> None:
    text = target.read_text(encoding="utf-8")
    # The comment and metadata stay as written; the groups are the rules file's.
    head = text[: text.index("spec:\n")]
    spec = yaml.dump(
        {"spec": {"groups": groups}},
        Dumper=_Dumper,
        sort_keys=False,
        width=10**6,
        allow_unicode=True,
    )
    target.write_text(head + spec, encoding="utf-8")


def main() -> int:
    groups = yaml.safe_load(RULES.read_text(encoding="utf-8"))["groups"]
    _write(TARGET, groups)
    _write(FLEET_TARGET, fleet_groups(groups))
    return 0


if __name__ == "__main__":
    sys.exit(main())
