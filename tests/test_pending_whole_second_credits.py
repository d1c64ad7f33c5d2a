"""A state file's credit of a step back written as a whole number of seconds (``3600``,
not ``3600.0``: a hand's edit, another tool's JSON) is read as the same number written
as a float (sesd.core.pending_file): a Delivery moved by a step since is moved the
credit less, to the second."""

from __future__ import annotations

import pytest

from sesd.core.pending import PendingDelays
from tests import factory as f

NOW = f.T0 + 10
DAY = 86_400.0


@pytest.mark.parametrize("credit", [3600, 1, 3600.0, 1.0])
def test_a_whole_number_credit_moves_the_delivery_as_the_same_float_does(
    credit: float,
) -> None:
    """Recipient 1's Delivery, remembered at NOW, carries ``credit`` seconds of a step
    back. NTP then steps the clock two days ahead, and SQS brings the recipient's
    DeliveryDelay, SES's ten minutes before NOW: timed the step less the credit, a
    whole number's as its float's (one second too)."""
    table = PendingDelays(100)
    table.restore({"pending": [], "resolved": [[1, NOW, credit]]})
    table.stepped(2 * DAY, NOW + 2 * DAY + 60)
    assert table.delayed(1, ("a.example",), NOW - 600, None) == (
        ("a.example",),
        600.0 + 2 * DAY - float(credit),
    )
