"""What a refused state file's firing alerts read as, from files made by hand (no
daemon): bytes that are no file name nothing and raise nothing; an ``alerts`` that
is no map hides not the owed resolves, nor a rule's states that are no map the other
rules'; a label firing and owed its resolve is named once."""

from __future__ import annotations

from typing import Any

import msgspec

from sesd.runtime.state_refused import firing_in

FIRING = ["firing", 1.0]


def _file(alerts: Any, retired: Any = ()) -> bytes:
    return msgspec.msgpack.encode({"version": 99, "alerts": alerts, "retired": list(retired)})


def test_bytes_that_are_no_file_name_nothing() -> None:
    assert firing_in(b"") == {}
    assert firing_in(b"\xc1") == {}  # a byte msgpack never writes


def test_alerts_that_are_no_map_hide_not_the_owed_resolves() -> None:
    owed = [{"name": "r"}, {"gmail.com": FIRING}, "sink down"]
    assert firing_in(_file(["not", "a", "map"], [owed])) == {"r": ["gmail.com"]}


def test_a_rule_whose_states_are_no_map_hides_no_other_rule() -> None:
    alerts = {"a": ["gmail.com"], "b": {"yahoo.com": FIRING}, "c": 5}
    assert firing_in(_file(alerts)) == {"b": ["yahoo.com"]}


def test_a_label_firing_and_owed_its_resolve_is_named_once() -> None:
    owed = [{"name": "r"}, {"gmail.com": FIRING, "aol.com": FIRING}, "sink down"]
    assert firing_in(_file({"r": {"gmail.com": FIRING}}, [owed])) == {"r": ["gmail.com", "aol.com"]}
