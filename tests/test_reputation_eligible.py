"""Which recipients the reputation estimate counts: all but the mailbox simulator's,
however an address is written (case, Unicode, shorter than the simulator's domain)."""

from __future__ import annotations

from hypothesis import given, settings
from hypothesis import strategies as st

from sesd.core.reputation import Reputation, eligible

_SIMULATOR = "@simulator.amazonses.com"

#: Addresses near the simulator's: its domain or a tail of it, its letters in either
#: case or swapped for characters that lower-case to them (or to more than one), after
#: a local part of any length.
_ADDRESS = st.builds(
    lambda local, tail, swaps: local + "".join(swaps.get(i, c) for i, c in enumerate(tail)),
    st.text(alphabet="aB@.İK\u212a", max_size=4),
    st.sampled_from([_SIMULATOR, _SIMULATOR.upper(), _SIMULATOR[1:], _SIMULATOR[3:], "x@y.com"]),
    st.dictionaries(
        st.integers(0, len(_SIMULATOR) - 1), st.sampled_from("İI@Kk\u212a\u0130.xM"), max_size=3
    ),
)


def _not_at_simulator(addresses: list[str]) -> int:
    """The estimate's rule, written plainly: the address's last characters, in lower
    case, are not the simulator's domain."""
    return sum(address[-len(_SIMULATOR) :].lower() != _SIMULATOR for address in addresses)


@settings(max_examples=500, deadline=None)
@given(addresses=st.lists(_ADDRESS, min_size=1, max_size=3))
def test_every_address_but_the_simulators_is_counted(addresses: list[str]) -> None:
    """eligible() and a delivery counted in the estimate agree with the plain rule."""
    expected = _not_at_simulator(addresses)
    assert eligible(addresses) == expected
    reputation = Reputation(window_sends=1000)
    reputation.windows("a", "r", "")  # its estimate made, with none eligible too
    reputation.observe("a", "r", "", "delivery", addresses)
    assert reputation.estimate(("a", "r", "")).sends == expected  # type: ignore[union-attr]
