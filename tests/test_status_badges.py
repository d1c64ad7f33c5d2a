"""Every state an alert row of the status page can show has its badge styled: a fill
white text reads on (over 4.5:1, the page's rule for its fills, in either scheme).
The states are the ones the status code makes of every alert state it lists, not a
list written here: a state added there without a style fails this."""

from __future__ import annotations

import re
from pathlib import Path

from sesd.alerting.evaluator import Evaluator
from sesd.alerting.rules import AlertState, Status
from sesd.config import core_settings, parse_config
from sesd.core.pipeline import Pipeline
from sesd.status import markup
from sesd.status.alerts import active, alert_rows
from sesd.status.markup import alerts_html
from tests.test_rule_changes import SINKS, WINDOWS, T, rule

CSS = (Path(markup.__file__).parent / "status.css").read_text()


def _shown_states() -> set[str]:
    """The badge classes the page draws for an alert in every status, its resolve owed
    (decided before a stop) or not."""
    config = parse_config(SINKS + rule())
    ledger = Pipeline(core_settings(config)).ledger
    evaluator = Evaluator(config.alerts, WINDOWS)
    states = {
        f"{status.value}.{owed}.example": AlertState(
            status, T, T, 0.1, T + 2 if owed else None, True
        )
        for status in Status
        for owed in (False, True)
    }
    evaluator.states = {"delays": states}
    found = active(evaluator)
    html = alerts_html(alert_rows(ledger, evaluator, found, T + 4), len(found), 0, T + 4)
    return set(re.findall(r'<span class="badge ([^"]+)">', html))


def _luminance(colour: str) -> float:
    channels = [int(colour[i : i + 2], 16) / 255 for i in (1, 3, 5)]
    linear = [c / 12.92 if c <= 0.03928 else ((c + 0.055) / 1.055) ** 2.4 for c in channels]
    return 0.2126 * linear[0] + 0.7152 * linear[1] + 0.0722 * linear[2]


def test_every_alert_state_the_page_shows_has_a_readable_badge() -> None:
    shown = _shown_states()
    assert {"firing", "pending", "resolved"} <= shown  # the page lists each of these
    # Every value each variable is set to: a fill the dark scheme sets anew is checked
    # too, as the light one's is.
    fills: dict[str, list[str]] = {}
    for name, value in re.findall(r"(--[\w-]+):\s*(#[0-9a-fA-F]{6})", CSS):
        fills.setdefault(name, []).append(value)
    for state in sorted(shown):
        found = re.search(r"\.badge\." + re.escape(state) + r"\s*\{([^}]*)\}", CSS)
        assert found, f"no .badge.{state} style"
        style = found.group(1)
        assert re.search(r"(?<![-\w])color:\s*#fff\b", style), state
        (var,) = re.findall(r"background:\s*var\((--[\w-]+)\)", style)
        for fill in fills[var]:
            ratio = 1.05 / (_luminance(fill) + 0.05)
            assert ratio >= 4.5, (state, fill, ratio)
