"""Which MX hosts are IP addresses (they name no provider): told apart from host names
before Python's address parser is asked, with the parser's answer."""

from __future__ import annotations

from ipaddress import ip_address

from hypothesis import given, settings
from hypothesis import strategies as st

from sesd.core.providers import _is_address


def _parsed(name: str) -> bool:
    """The parser's answer alone, for the bare and the bracketed forms."""
    if name.startswith("[") and name.endswith("]"):
        name = name[1:-1].removeprefix("ipv6:")
    try:
        ip_address(name)
    except ValueError:
        return False
    return True


@settings(max_examples=2000, deadline=None)
@given(
    st.one_of(
        st.text(alphabet="0123456789abcdefx.:[]%v6ip", max_size=24),
        st.ip_addresses().map(str),
        st.ip_addresses(v=6).map(lambda a: f"[ipv6:{a}]"),
        st.ip_addresses(v=4).map(lambda a: f"[{a}]"),
    )
)
def test_an_address_is_told_as_the_parser_tells_it(name: str) -> None:
    assert _is_address(name) == _parsed(name)


def test_host_names_and_addresses() -> None:
    for host in ("aspmx.l.google.com", "mx.d3.example", "", "x.1a", "[mx.example]"):
        assert not _is_address(host), host
    for host in (
        "192.0.2.1",
        "[192.0.2.1]",
        "2001:db8::1",
        "[ipv6:2001:db8::1]",
        "::ffff:192.0.2.1",
    ):
        assert _is_address(host), host
