"""The human-readable replay report (``--json`` prints the document itself)."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from sesd.alerting.figures import metric_text, side_text
from sesd.config import RuleConfig
from sesd.core.text import clean, escaped

__all__ = ["named", "render_text", "stopped_line"]

#: The most of an input's name shown (an S3 key may have 1,024 bytes).
_NAME_CHARS = 1100


def named(name: str) -> str:
    """An input's name as the report and stderr show it: the user's own (a file, an S3
    key), so whole, addresses and all, but with its control characters escaped (a
    key or a file name may hold a terminal's escape sequences)."""
    return escaped(name, _NAME_CHARS)


def _ratio(value: float | None) -> str:
    return "-" if value is None else f"{value:.1%}"


def _where(value: dict[str, Any]) -> str:
    """Where an invalid value was read: its input (the user's name), its place
    there and its byte offset (in the decompressed data of a gzipped input)."""
    where = f"{named(value['input'])}, value {value['value']}"
    if value["byte_offset"] is not None:
        where += f", {_offset(value)}"
    return where


def _offset(value: dict[str, Any]) -> str:
    """A byte offset, and what it counts in (the decompressed data of a gzipped input)."""
    return f"byte offset {value['byte_offset']}" + (
        " (decompressed)" if value["decompressed"] else ""
    )


def stopped_line(stop: dict[str, Any]) -> str:
    """A sentence for stderr that a replay of an input is partial or failed a check,
    leading with that (a reader of the report alone may not look further), then where
    and why: the byte offset reached (for a document too large, where it starts), for
    a gzipped input how many compressed bytes were read by then, and how many values
    before it were replayed."""
    name, detail = named(stop["input"]), clean(stop["detail"])
    read = stop["compressed_offset"]
    replayed = f"({stop['values']} values)"
    if stop["dropped_bytes"]:
        # Not an invalid value either: a value cut off is not counted anywhere else.
        replayed += f", but not the {stop['dropped_bytes']} bytes after its last whole value"
    if stop["reason"] == "check_failed" and stop["read_to_end"]:
        # Every byte was read and decompressed before the check at the stream's end.
        return (
            f"replay read all of {name} ({stop['byte_offset']} bytes decompressed from "
            f"{read}), but its gzip check failed ({detail}): the data may be damaged; what "
            f"it held was replayed {replayed}"
        )
    if stop["reason"] == "check_failed":
        # A stream of several: those after it were not read.
        return (
            f"replay read only part of {name}: the gzip check of a stream ending at "
            f"{_offset(stop)} failed ({detail}), and what follows it was not read; the data "
            f"may be damaged; what came before was replayed {replayed}"
        )
    if stop["reason"] == "not_gzip" and not stop["byte_offset"] and stop["input"].endswith(".gz"):
        # No gzip at all, read as gzip for its name alone (gzip's own first bytes tell
        # it otherwise): most likely JSON that something decompressed on the way (a
        # download's Content-Encoding) and kept the name of.
        return (
            f"replay read none of {name}: it is not gzip data ({detail}), though named "
            ".gz: if it is plain JSON, rename it without .gz and replay it"
        )
    if stop["reason"] == "not_gzip":
        # After a stream, bytes appended to it.
        what = "it is" if not stop["byte_offset"] else "what follows its gzip stream is"
        return (
            f"replay read only part of {name}: {what} not gzip data ({detail}); what came "
            f"before was replayed {replayed}"
        )
    line = f"replay read only part of {name}: stopped reading at {_offset(stop)}"
    if read is not None:
        line += f", {read} compressed bytes read"
    return f"{line} ({stop['reason']}: {detail}); what came before was replayed {replayed}"


def render_text(document: dict[str, Any], rules: Sequence[RuleConfig]) -> str:
    """The human-readable report; ``rules``, those replayed (each alert's metric)."""
    lines = []
    messages = document["messages"]
    lines.append("messages: " + ", ".join(f"{k} {v}" for k, v in messages.items()))
    if document["invalid"]:
        lines.append("invalid: " + ", ".join(f"{k} {v}" for k, v in document["invalid"].items()))
    # The detail may quote the body: cleaned.
    lines.extend(
        f"  {_where(value)}: {value['reason']}: {clean(value['detail'])}"
        for value in document["invalid_values"]
    )
    if document["causes"]:
        lines.append("causes: " + ", ".join(f"{k} {v}" for k, v in document["causes"].items()))
    lines.append("")
    scopes = (
        ("domain", document["domains"]),
        ("provider", document["providers"]),
        ("tenant", document.get("tenants", {})),
    )
    for axis, per_label in scopes:
        if per_label:
            lines.append(f"recipients per {axis} (all events):")
        for label, counts in per_label.items():
            lines.append(f"  {label:<32} " + "  ".join(f"{k}={v}" for k, v in counts.items()))
    if document["windows"]:
        lines.append("")
        lines.append(f"windows as of {document['as_of']}:")
        lines.append(
            f"  {'domain':<32} {'window':>6} {'deliv':>7} {'delayed':>7} {'delay%':>7} "
            f"{'bounce%':>7} {'p95 proc':>9} {'pending':>7}"
        )
        for domain, windows in document["windows"].items():
            for name, w in windows.items():
                p95 = w["processing_p95_seconds"]
                lines.append(
                    f"  {domain:<32} {name:>6} {w['counts'].get('delivery', 0):>7} "
                    f"{w['counts'].get('delivery_delay', 0):>7} {_ratio(w['delay_ratio']):>7} "
                    f"{_ratio(w['bounce_ratio']):>7} "
                    f"{'-' if p95 is None else f'{p95:.1f}s':>9} {w['pending_delays']:>7}"
                )
    lines.append("")
    if not document["alerts"]:
        lines.append("alerts: none")
    else:
        lines.append("alerts:")
        # Each value as its metric's, as the alerts sinks send write it: a ratio in
        # percent (beside the windows' delay% above, a bare 0.6 read as 0.6%).
        rule_of = {rule.name: rule for rule in rules}
        for alert in document["alerts"]:
            rule = rule_of[alert["rule"]]
            resolved = alert["state"] == "resolved"
            side = side_text(rule.rising, alert["value"], alert["threshold"], resolved=resolved)
            lines.append(
                f"  {alert['at']}  {alert['state'].upper():<8} {alert['rule']}  {alert['domain']}"
                f"  {rule.metric} {metric_text(rule.metric, alert['value'])} "
                f"({side} {metric_text(rule.metric, alert['threshold'])}, "
                f"{alert['window']} window)"
            )
    return "\n".join(lines)
