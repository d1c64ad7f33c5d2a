"""Sliding windows per label (domain, provider, tag value), kept in event time.

Each window is a ring of fixed-width buckets (sesd.core.windows.ring) holding
recipient counts per event type and the values recorded in each bucket
(processing time, time to delivery, how long resolved delays lasted), from
which quantiles are read over exactly the window's buckets. The bucket width
is ``resolution`` (10 s by default), widened for long windows so no ring has
more than ``max_buckets`` buckets: with the defaults the 5m window moves in
10 s steps, 15m in 30 s and 1h in 2 min steps.

Breakdowns for alert text (sesd.core.windows.breakdown) are kept per coarse bucket
where problem events occurred.

Reads are pure: reading a window at any time changes nothing a later read
returns; only writes move a ring on. Pure code: time is always a parameter.
"""

from sesd.core.windows.breakdown import OVERFLOW, Breakdown, Noted, noted
from sesd.core.windows.domain import DomainWindows
from sesd.core.windows.specs import NO_SUMMARY, Figures, Summary, WindowSpec, window_specs
from sesd.core.windows.value_keys import delivery_pair

__all__ = [
    "NO_SUMMARY",
    "OVERFLOW",
    "Breakdown",
    "DomainWindows",
    "Figures",
    "Noted",
    "Summary",
    "WindowSpec",
    "delivery_pair",
    "noted",
    "window_specs",
]
