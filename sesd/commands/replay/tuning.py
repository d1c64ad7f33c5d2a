"""``sesd replay --report``: how each rule would have behaved on the replayed history,
and ``--set RULE.KEY=VALUE`` to try another threshold without editing the config.

Pure code: the replay hands over its transitions and the span it replayed.
"""

from __future__ import annotations

from typing import Any, Final

import msgspec

from sesd.alerting.alert import duration
from sesd.config import Config, ConfigError, RuleConfig
from sesd.config.thresholds import percent_hint
from sesd.config.values import one_line

__all__ = ["OVERRIDABLE", "RuleReport", "override", "render_report", "report"]

#: The rule keys ``--set`` may change.
OVERRIDABLE: Final = ("above", "below", "clear_below", "clear_above", "min_events", "for")


def override(config: Config, settings: list[str]) -> Config:
    """``config`` with each ``RULE.KEY=VALUE`` applied (and checked as the file would
    be). Raises ConfigError naming the setting that is wrong."""
    rules = {rule.name: rule for rule in config.alerts.rules}
    for setting in settings:
        target, equals, value = setting.partition("=")
        name, dot, key = target.rpartition(".")
        if not equals or not dot or not name:
            raise ConfigError(f"--set {setting!r}: write RULE.KEY=VALUE (e.g. delays.above=0.1)")
        if name not in rules:
            raise ConfigError(f"--set {setting!r}: no rule named {name!r}")
        if key not in OVERRIDABLE:
            raise ConfigError(f"--set {setting!r}: {key!r} is not one of {', '.join(OVERRIDABLE)}")
        plain: dict[str, Any] = msgspec.to_builtins(rules[name], enc_hook=_plain)
        plain = {k: v for k, v in plain.items() if v is not None}
        plain[key] = _value(key, value, setting)
        if key in ("above", "below"):
            # Which side the rule fires on is the one given: the other side's keys go.
            other = "below" if key == "above" else "above"
            for gone in (other, "clear_above" if key == "above" else "clear_below"):
                plain.pop(gone, None)
        try:
            rules[name] = msgspec.convert(plain, RuleConfig, dec_hook=_parse)
        except msgspec.ValidationError as exc:
            # The key as the setting names it (``for: ...``), not msgspec's ``$.for``.
            raise ConfigError(f"--set {setting!r}: {one_line(exc)}") from None
        except ValueError as exc:
            raise ConfigError(f"--set {setting!r}: {exc}") from None
    alerts = msgspec.structs.replace(
        config.alerts, rules=[rules[rule.name] for rule in config.alerts.rules]
    )
    return msgspec.structs.replace(config, alerts=alerts)


def _value(key: str, value: str, setting: str) -> Any:
    try:
        if key == "for":
            return value
        number = float(value)
    except ValueError:
        # A percentage is how people say a threshold: told as the file's error tells it.
        hint = percent_hint(key, value)
        raise ConfigError(f"--set {setting!r}: {key}: {value!r} is not a number{hint}") from None
    if key != "min_events":
        return number
    try:
        return int(value)
    except ValueError:
        raise ConfigError(f"--set {setting!r}: {key}: {value!r} is not a whole number") from None


def _plain(obj: Any) -> Any:
    from sesd.config import Duration, Secret

    if isinstance(obj, Duration):
        return obj.text
    if isinstance(obj, Secret):  # pragma: no cover - rules hold no secrets
        return obj.masked()
    raise NotImplementedError(type(obj))


def _parse(type_: type, obj: Any) -> Any:
    from sesd.config import Duration

    if type_ is Duration:
        return Duration(str(obj))
    raise NotImplementedError(type_)


class RuleReport(msgspec.Struct):
    """One rule over the replayed span."""

    rule: str
    fired: int = 0
    firing_seconds: float = 0.0
    longest_seconds: float = 0.0
    #: Label (domain, provider or ACCOUNT/REGION) -> times it fired.
    labels: dict[str, int] = msgspec.field(default_factory=dict)
    #: The share of the replayed span during which at least one alert was firing.
    share: float = 0.0


def report(
    rules: list[str], transitions: list[tuple[str, str, str, float]], start: float, end: float
) -> list[RuleReport]:
    """Each rule's report from its (rule, label, firing|resolved, at) transitions over
    ``[start, end]``; an alert still firing at ``end`` counts until ``end``."""
    out = []
    span = max(0.0, end - start)
    for rule in rules:
        found = RuleReport(rule)
        open_since: dict[str, float] = {}
        intervals: list[tuple[float, float]] = []
        for name, label, state, at in transitions:
            if name != rule:
                continue
            if state == "firing":
                found.fired += 1
                found.labels[label] = found.labels.get(label, 0) + 1
                open_since[label] = at
            elif state == "resolved" and label in open_since:
                intervals.append((open_since.pop(label), at))
        intervals += [(since, end) for since in open_since.values()]
        for since, until in intervals:
            length = max(0.0, until - since)
            found.firing_seconds += length
            found.longest_seconds = max(found.longest_seconds, length)
        found.share = _union(intervals) / span if span else 0.0
        found.labels = dict(sorted(found.labels.items(), key=lambda item: (-item[1], item[0])))
        out.append(found)
    return out


def _union(intervals: list[tuple[float, float]]) -> float:
    """The time covered by at least one interval."""
    total, reach = 0.0, float("-inf")
    for since, until in sorted(intervals):
        if until <= reach:
            continue
        total += until - max(since, reach)
        reach = until
    return total


def render_report(reports: list[RuleReport]) -> str:
    """The table ``--report`` prints."""
    lines = [
        f"{'rule':<28} {'fired':>5} {'firing':>9} {'longest':>9} {'share':>6}  on",
    ]
    for r in reports:
        on = ", ".join(f"{label} ({n})" for label, n in list(r.labels.items())[:5]) or "-"
        if len(r.labels) > 5:
            on += f", and {len(r.labels) - 5} more"
        lines.append(
            f"{r.rule:<28} {r.fired:>5} {duration(r.firing_seconds):>9} "
            f"{duration(r.longest_seconds):>9} {r.share:>6.1%}  {on}"
        )
    if not reports:
        lines.append("(no rule: the config has no [[alerts.rules]], so none fired)")
    return "\n".join(lines)
