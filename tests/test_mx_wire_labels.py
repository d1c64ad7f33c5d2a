"""An MX host read from the answer's labels, not from its text form: the resolver
hands the provider table the same labels either way, so every host gets the provider
it got when read as text."""

from __future__ import annotations

import dns.name
from hypothesis import given, settings
from hypothesis import strategies as st

from sesd.core.providers import _labels, by_labels, by_mx, mx_table, wire_labels


@settings(max_examples=500, deadline=None)
@given(st.lists(st.binary(min_size=1, max_size=8), min_size=0, max_size=5))
def test_the_labels_sent_read_as_the_text_form_reads(raw: list[bytes]) -> None:
    """Whatever bytes a host's labels hold (dots, backslashes, upper case, any byte),
    and the root alone (no label but its own)."""
    name = dns.name.Name([*raw, b""])
    assert wire_labels(name.labels) == _labels(name.to_text(omit_final_dot=True))


def test_a_host_gets_the_same_provider_read_either_way() -> None:
    table = mx_table({"corp": ("mail.corp.example",)})
    for text in (
        "aspmx.l.google.com.",
        "ASPMX.L.GOOGLE.COM.",
        "corp-example.mail.protection.outlook.com.",
        "x\\.google.com.",
        "mx\\046google.com.",
        "aspmx\\.l.google.com.",
        "mx1.mail.corp.example.",
        "192.0.2.1.",
        "mx.self.example.",
        ".",
    ):
        name = dns.name.from_text(text)
        expected = by_mx([name.to_text(omit_final_dot=True)], table)
        assert by_labels([wire_labels(name.labels)], table) == expected, text
