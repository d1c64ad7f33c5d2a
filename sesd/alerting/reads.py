"""What one evaluation reads of the windows, read once.

Rules often share a window: ten rules over every domain's 15m window read each
domain's counts ten times at the same moment. A read is a pure function of the
window and the moment, so one evaluation keeps each read it made and hands it to
the next rule that asks; the next evaluation starts afresh (its moment differs,
and events came meanwhile).
"""

from __future__ import annotations

from dataclasses import replace

from sesd.alerting.alert import Alert
from sesd.core.ledger import Ledger
from sesd.core.scopes import DOMAIN
from sesd.core.windows import DomainWindows, Figures
from sesd.core.windows.specs import counts_figures

__all__ = ["Reads"]


class Reads:
    """The reads of one evaluation at one moment (:meth:`start` begins each, the
    first included). What they return is shared: not to be changed."""

    __slots__ = ("_causes", "_figures", "_ledger", "_now")

    def __init__(self) -> None:
        self._figures: dict[tuple[DomainWindows, int, bool], Figures] = {}
        self._causes: dict[tuple[DomainWindows, int], dict[int, int]] = {}
        self._ledger: Ledger | None = None

    def start(self, now: float, ledger: Ledger | None = None) -> None:
        """Forget the last evaluation's reads: this one reads at ``now`` (and what the
        ledger knows of a domain's provider, when given)."""
        self._figures.clear()
        self._causes.clear()
        self._now, self._ledger = now, ledger

    def provider(self, axis: str, label: str) -> str | None:
        """The mailbox provider of a domain label (None on another axis, or not known)."""
        if axis != DOMAIN or self._ledger is None:
            return None
        return self._ledger.provider_of(label, self._now)

    def refreshed(self, last: Alert | None, axis: str, label: str) -> Alert | None:
        """``last``, a firing alert as last sent without a provider, naming its
        domain's provider as found since (None when there is nothing new to say).

        Alertmanager is posted the alert as last sent every resend period, and the
        next repeat (hours away: ``repeat_interval``) is the next time it is built
        anew: without this, a provider found while the alert fires would reach
        Alertmanager's annotations only then. Only the text changes: the labels and
        the dedup key do not name the provider, so no sink sees a new alert, and
        keeping it notifies no one. One that names a provider is not looked up again
        (a domain's MX rarely moves mid-incident; the repeat says it): that lookup,
        for every firing alert at every evaluation, made evaluating 3,000 firing
        alerts between repeats 5-9% slower."""
        if last is None or last.provider is not None:
            return None
        found = self.provider(axis, label)
        return None if found is None or found == last.provider else replace(last, provider=found)

    def figures(self, windows: DomainWindows, index: int, quantiles: bool) -> Figures:
        """What window ``index`` says: its counts, and its quantiles when asked (they
        cost a pass over the window's values)."""
        key = (windows, index, quantiles)
        found = self._figures.get(key)
        if found is None:
            now = self._now
            found = (
                windows.figures(index, now)
                if quantiles
                else counts_figures(windows.counts(index, now))
            )
            self._figures[key] = found
        return found

    def causes(self, windows: DomainWindows, index: int) -> dict[int, int]:
        """Delayed recipients per cause number in window ``index``."""
        key = (windows, index)
        found = self._causes.get(key)
        if found is None:
            found = self._causes[key] = windows.causes(index, self._now)
        return found
