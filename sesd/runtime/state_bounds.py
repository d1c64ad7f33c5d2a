"""What a restore holds a rule's alert states to: the labels its scope can have a
state of, and its ceiling (sesd.runtime.state_size); and the firing alerts dropped,
named for a person to close by hand."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from sesd.alerting.rules import AlertState, Status
from sesd.config import ACCOUNT_METRICS, CANARY_METRICS, RuleConfig
from sesd.core.accounts import is_account_label
from sesd.core.canary import CANARY_DOMAIN
from sesd.core.ledger import Ledger
from sesd.core.text import clean
from sesd.runtime.state_size import alert_ceiling

__all__ = ["bounded", "firing_of", "named"]


def _admits(rule: RuleConfig, ledger: Ledger, data: dict[str, Any]) -> Callable[[str], bool]:
    """Whether a label is one ``rule`` could have a state of: the canary's, an
    ``ACCOUNT/REGION``, or one an event makes in the rule's scope (as configured now,
    or when ``data``, the file, was saved)."""
    if rule.metric in CANARY_METRICS:
        return lambda label: label == CANARY_DOMAIN
    if rule.metric in ACCOUNT_METRICS:
        return is_account_label
    return ledger.makes(rule.scope, data)


def bounded(
    rules: list[RuleConfig],
    states: dict[str, dict[str, AlertState]],
    ledger: Ledger,
    data: dict[str, Any],
) -> tuple[dict[str, list[str]], int]:
    """Drop from ``states`` what no rule's scope can hold: labels :func:`_admits` does
    not take, and each rule's states past its ceiling (sesd.runtime.state_size; firing
    ones kept first, then the latest). The firing alerts dropped (rule -> labels, some
    named), for a person, and how many states were dropped."""
    dropped, refused = {}, 0
    for rule in rules:
        held = states.get(rule.name)
        if not held:
            continue
        admits = _admits(rule, ledger, data)
        admitted = [(label, state) for label, state in held.items() if admits(label)]
        ranked = sorted(
            admitted, key=lambda item: (item[1].status is not Status.FIRING, -item[1].since)
        )
        kept = states[rule.name] = dict(ranked[: alert_ceiling(rule, ledger.settings)])
        refused += len(held) - len(kept)
        gone = [clean(label) for label in firing_of(held) if label not in kept]
        if gone:
            dropped[rule.name] = sorted(gone)
    return dropped, refused


def named(*found: dict[str, list[str]]) -> dict[str, list[str]]:
    """Firing alerts named for a person (rule -> labels), from each of ``found``: each
    rule's labels merged, every one (the line names as many as it holds and counts the
    others: cut here, a rule's past 50 were counted nowhere)."""
    merged: dict[str, set[str]] = {}
    for each in found:
        for name, labels in each.items():
            merged.setdefault(name, set()).update(labels)
    return {name: sorted(labels) for name, labels in merged.items()}


def firing_of(states: dict[str, AlertState]) -> list[str]:
    return [label for label, state in states.items() if state.status is Status.FIRING]
