"""The rules a state file's alert states were saved under, read back at a restore:
each one's description as the file wrote it (or the configured rule of its name),
held to the windows a config had (the file's layout, those its alerts fired under,
and the config's now), so no text a hand wrote reaches the sinks.
"""

from __future__ import annotations

from typing import Any

from sesd.alerting.evaluator import Evaluator
from sesd.alerting.rules import AlertState
from sesd.config import Duration, RuleConfig, rule_of

__all__ = ["saved_rules", "saved_windows"]


def saved_windows(data: dict[str, Any], evaluator: Evaluator) -> set[str]:
    """The windows configured when the file was saved (its layout), and now; and those
    the alerts it keeps firing fired under (``fired_windows``: each a config's, read at
    a restart before, that an alert fired on under across restarts since), each a
    window's text as a config writes it."""
    saved = [spec[0] for spec in data["layout"] if isinstance(spec, list) and spec]
    had = data.get("fired_windows")
    saved += [name for name in had if _window_text(name)] if isinstance(had, list) else []
    return {name for name in saved if isinstance(name, str)} | set(evaluator.window_names)


def _window_text(name: object) -> bool:
    """Whether ``name`` reads as a window's size as a config writes it (``5m``)."""
    try:
        return isinstance(name, str) and len(name) <= 16 and Duration(name).text == name
    except ValueError:
        return False


def saved_rules(
    saved: dict[str, Any],
    alerts: dict[str, dict[str, AlertState]],
    evaluator: Evaluator,
    windows: set[str],
) -> tuple[list[RuleConfig], dict[str, dict[str, AlertState]], int]:
    """The rules the states were saved under (the configured one of the same name when
    the file does not say, or no longer reads as a rule), the states of rules neither
    describes, and how many descriptions did not read (all, once, if no map). One of
    another rule's name (a hand's edit) does not read: it would bound these states;
    nor one of a window not of ``windows`` (no config had it): its text would reach
    the sinks, in the note of the rule's change."""
    configured = {rule.name: rule for rule in evaluator.rules}
    rules, unknown, unread = [], {}, 0
    if not isinstance(saved, dict):  # not a map of descriptions: the rules configured
        saved, unread = {}, 1
    for name, states in alerts.items():
        rule: RuleConfig | None = None
        try:
            rule = rule_of(saved[name])
        except KeyError:  # a file from before rules were saved
            pass
        except ValueError:
            unread += 1
        if rule is not None and (rule.name != name or rule.window not in windows):
            rule, unread = None, unread + 1
        if rule is not None:
            rules.append(rule)
        elif name in configured:
            rules.append(configured[name])
        else:
            unknown[name] = states
    return rules, unknown, unread
