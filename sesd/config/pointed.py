"""A rule's error said so that its reader finds the rule: by its name beside its index
(in a file of a hundred rules, ``rules[57]`` is a count of headers), and a percentage
where a fraction goes with how to write it."""

from __future__ import annotations

import re
from typing import Any

from sesd.config.thresholds import percent_hint
from sesd.config.values import toml_key
from sesd.core.text import escaped

__all__ = ["pointed"]

_RULE_AT = re.compile(r"alerts\.rules\[(\d+)\]")


def pointed(message: str, data: dict[str, Any]) -> str:
    """A rule's error names the rule (in a file of a hundred, ``rules[57]`` is a count
    of headers), and a percentage where a fraction goes says how to write it."""
    found = _RULE_AT.match(message)
    if found is None:
        return message
    rules = data.get("alerts", {}).get("rules", [])
    rule = rules[int(found.group(1))] if int(found.group(1)) < len(rules) else None
    name = rule.get("name") if isinstance(rule, dict) else None
    rest = message[found.end() :]
    if isinstance(name, str) and name and not rest.startswith(" ("):  # not named already
        # Cut with an ellipsis: a name cut silently reads as a shorter name to search for.
        message = f"{found.group(0)} ({escaped(name, 64)}){rest}"
    key = rest.partition(":")[0].lstrip(".")
    value = rule.get(key) if isinstance(rule, dict) else None
    message += percent_hint(key, value)
    labels = rule.get("labels") if isinstance(rule, dict) else None
    if key == "labels[...]" and isinstance(labels, dict):
        # msgspec names no key of a table: the label a template rendered as a number.
        wrong = [name for name, text in labels.items() if not isinstance(text, str)]
        message = message.replace(
            "labels[...]", f"labels.{toml_key(wrong[0])}" if wrong else key, 1
        )
    return message
