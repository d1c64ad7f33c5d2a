"""The rules alerts fired under, as a state file keeps them (key ``fired``), read
back without a daemon: each entry that does not read (a hand's edit, a flipped byte)
is counted and forgotten alone, and the entries around it read as written; entries
that say the same keys share one rule, a value's type among what tells them apart."""

from __future__ import annotations

from typing import Any

from sesd.alerting.rechecked import Rechecked
from sesd.config import parse_config
from tests.test_rule_changes import SINKS, rule

#: What decides an alert of :func:`rule`, as the state file keeps it.
DECIDED = {
    "metric": "delay_ratio", "window": "5m", "cause": None, "include_suppressed": False,
    "above": 0.2, "below": None, "clear_below": None, "clear_above": None,
}  # fmt: skip
(RULE,) = parse_config(SINKS + rule()).alerts.rules


def _adopted(saved: Any) -> tuple[int, dict[tuple[str, str], tuple[float, float | None]]]:
    """How many entries of ``saved`` do not read, and each read one's (when its alert
    fired, the threshold it fired under)."""
    rechecked = Rechecked()
    unread = rechecked.adopt(saved, [RULE], ["5m"])
    return unread, {key: (since, rule.threshold) for key, (rule, since) in rechecked.fired.items()}


def test_no_entries_saved_is_none_unread() -> None:
    """A file of a build that kept none (the key missing) reads as no entries."""
    assert _adopted(None) == (0, {})
    assert _adopted({}) == (0, {})


def test_entries_not_a_map_are_one_unread() -> None:
    assert _adopted(["delays"]) == (1, {})


def test_each_entry_that_does_not_read_is_counted_and_the_others_read() -> None:
    """Rows of every way not to read, between two that do: each counted once, the
    reading going on past it (to the next label, the next rule)."""
    good = [100, {**DECIDED, "above": 0.3}]
    labels = {
        "a.example": good,
        "b.example": "no row",
        "c.example": [100],
        "d.example": [True, DECIDED],
        "e.example": ["100", DECIDED],
        "f.example": [100, "no keys"],
        "g.example": [100, {k: v for k, v in DECIDED.items() if k != "clear_above"}],
        "h.example": [100, {**DECIDED, "above": [0.3]}],
        "i.example": [100, {**DECIDED, "metric": "no such metric"}],
        "j.example": [250.5, DECIDED, "a later build's"],
    }
    saved = {"other": "no map", "gone": {"a.example": good}, "delays": labels, "more": 7}
    unread, fired = _adopted(saved)
    assert fired == {("delays", "a.example"): (100.0, 0.3), ("delays", "j.example"): (250.5, 0.2)}
    assert unread == 11  # "gone": a rule the file does not describe; no map of labels


def test_entries_of_the_same_keys_share_a_rule_a_type_told_apart() -> None:
    """Two alerts that fired under the same keys hold one rule; ``0`` where a flag's
    ``false`` goes is another value (read as ``false``, two alerts fired under one
    version would be told apart at the next save, or a hand's ``0`` taken as ``false``)."""
    saved = {"delays": {"a": [1, DECIDED], "b": [2, {**DECIDED}], "c": [3, DECIDED]}}
    rechecked = Rechecked()
    assert rechecked.adopt(saved, [RULE], ["5m"]) == 0
    assert len({id(rule) for rule, _ in rechecked.fired.values()}) == 1
    zero = {"delays": {"a": [1, DECIDED], "b": [2, {**DECIDED, "include_suppressed": 0}]}}
    unread, fired = _adopted(zero)
    assert (unread, list(fired)) == (1, [("delays", "a")])


def test_alerts_of_two_rules_are_saved_each_under_its_own_keys() -> None:
    """Two alerts fired under two rules (or two versions of one) are saved each with
    the keys that decided it, and read back so: the keys of the first one saved are
    not every alert's (a page told the thresholds of another rule after a restart)."""
    config = parse_config(SINKS + rule() + rule("wide").replace("0.2", "0.3"))
    delays, wide = config.alerts.rules
    rechecked = Rechecked()
    rechecked.fired = {("delays", "a.example"): (delays, 10.0), ("wide", "b.example"): (wide, 20.0)}
    saved = rechecked.saved()
    assert saved == {
        "delays": {"a.example": [10.0, DECIDED]},
        "wide": {"b.example": [20.0, {**DECIDED, "above": 0.3}]},
    }
    again = Rechecked()
    assert again.adopt(saved, [delays, wide], ["5m"]) == 0
    assert {key: r.threshold for key, (r, _) in again.fired.items()} == {
        ("delays", "a.example"): 0.2,
        ("wide", "b.example"): 0.3,
    }


def test_an_account_rules_alert_reads_back_under_its_account_only() -> None:
    """An account rule's alert (on ``ACCOUNT/REGION``) is read back as saved; one the
    file names on a domain, which that rule never makes, does not read."""
    paused = '[[alerts.rules]]\nname = "paused"\nmetric = "sending_paused"\nwindow = "5m"\n'
    config = parse_config(SINKS + paused + 'above = 0\nsinks = ["pager"]\n')
    (rule_,) = config.alerts.rules
    decided = {**DECIDED, "metric": "sending_paused", "above": 0.0}
    saved = {"paused": {"default/eu-west-1": [5, decided], "a.example": [6, decided]}}
    rechecked = Rechecked()
    assert rechecked.adopt(saved, [rule_], ["5m"]) == 1
    assert list(rechecked.fired) == [("paused", "default/eu-west-1")]
