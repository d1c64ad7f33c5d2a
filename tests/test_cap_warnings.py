"""Past ``max_tracked`` a new recipient domain, tag value or tenant counts under
``other``: no rule on it by name fires, and nothing but the ``other`` series says so.
The janitor warns once a spell, naming the bound and what to do."""

from __future__ import annotations

from collections.abc import MutableMapping
from typing import Any

import anyio
import pytest
from structlog.testing import capture_logs

from sesd.config import core_settings, parse_config
from sesd.core.domains import OTHER, tag_label
from sesd.core.label_table import LabelTable
from sesd.core.pipeline import Pipeline
from sesd.io.logs import get_logger
from sesd.runtime.caps import CapWatch, cap_watches
from tests import factory as f
from tests.test_sender_cap_warning import Rounds

_QUEUE = '[[queues]]\nurl = "https://sqs.eu-west-1.amazonaws.com/123456789012/eu"\n'


def _domain(value: str) -> dict[str, Any]:
    return f.delivery([f"r@{value}"])


def _tag(value: str) -> dict[str, Any]:
    return f.delivery(["r@a.example"], tags={"campaign": [value]})


def _tenant(value: str) -> dict[str, Any]:
    return f.delivery(["r@a.example"], tags={"ses:tenant-name": [value]})


# (config, an event carrying a value, values that fill the table, values past it, the
# warning, what its hint must name, and its fields)
_CAPS = {
    "domains": (
        "[domains]\nmax_tracked = 2\n", _domain, ["a.example", "b.example"],
        ["c.example", "d.example"], "sesd.domains.capped",
        ["[domains] track", "raise [domains] max_tracked"], {},
    ),
    "tags": (
        '[dimensions]\ntags = ["campaign"]\nmax_tracked = 2\n', _tag,
        # (a value SES could not have carried is under ``other`` by its text: no cap)
        ["spring", "summer", "not a tag value"], ["autumn", "winter"], "sesd.tags.capped",
        ["raise [dimensions] max_tracked"], {"tag": "campaign"},
    ),
    "tenants": (
        "[tenants]\nenabled = true\nmax_tracked = 2\n", _tenant, ["acme", "globex"],
        ["initech", "umbrella"], "sesd.tenants.capped",
        ["a rule's tenants", "raise [tenants] max_tracked"], {},
    ),
}  # fmt: skip


@pytest.mark.parametrize("cap", list(_CAPS))
async def test_the_values_past_max_tracked_are_warned_of_once(
    monkeypatch: pytest.MonkeyPatch, cap: str
) -> None:
    """Rounds with the table full but every value under its own label (and a tag's value
    SES could not have carried under ``other``) say nothing; the round after a value the
    cap counted under ``other`` warns, and the rounds after it (more values under
    ``other``) do not warn again, nor those of the janitor started again after a fault
    (which warned again: its watches were made anew)."""
    config, event, filling, past, name, hints, fields = _CAPS[cap]
    pipeline = Pipeline(core_settings(parse_config(_QUEUE + config)))

    def deliver(value: str) -> None:
        assert pipeline.feed(f.raw(event(value)), "eu", f.T0).outcome == "processed"

    for value in filling:
        deliver(value)
    rounds = Rounds(pipeline, monkeypatch)

    def capped(logs: list[MutableMapping[str, Any]]) -> list[MutableMapping[str, Any]]:
        return [log for log in logs if log["event"].endswith(".capped")]

    with capture_logs() as logs, anyio.fail_after(20):
        async with anyio.create_task_group() as tg:
            tg.start_soon(rounds.janitor(lambda: f.T0, lambda: 0.0))
            await rounds.after(2)
            assert capped(logs) == []
            for value in past:
                deliver(value)
                await rounds.after(2)
            await rounds.fault()
            tg.cancel_scope.cancel()
    (warned,) = capped(logs)
    assert warned["event"] == name
    assert warned["log_level"] == "warning"
    assert warned["max_tracked"] == 2
    assert all(hint in warned["hint"] for hint in hints)
    assert {key: warned[key] for key in fields} == fields


def test_a_cap_is_warned_of_again_once_it_counted_none_for_idle_evict() -> None:
    """A value the cap counts under ``other`` within ``idle_evict`` of the last is the
    same spell: no second warning; one after the cap counted none for ``idle_evict``
    starts a new spell, warned of again."""
    table = LabelTable(max_tracked=1, idle_evict=100.0)
    watch = CapWatch("sesd.domains.capped", table, "raise it", {})
    table.label("a.example", 0.0)
    log = get_logger()
    with capture_logs() as logs:
        table.label("b.example", 10.0)
        watch.round(10.0, log)
        table.label("c.example", 50.0)
        watch.round(60.0, log)
        assert table.last_seen[OTHER] == 50.0
        watch.round(160.0, log)  # (a round sees it idle, before the next)
        table.label("d.example", 200.0)
        watch.round(200.0, log)
    assert [log["event"] for log in logs] == ["sesd.domains.capped"] * 2


def test_a_trickle_of_tag_values_ses_could_not_carry_holds_no_spell() -> None:
    """A tag's values SES could not have carried (spaces, an address) are under
    ``other`` by their text, not by the cap. A steady trickle of them kept ``other``
    seen, and so the spell the cap's first value opened, for ever: a value the cap
    counts after it counted none for ``idle_evict`` was not warned of. It is."""
    table = LabelTable(max_tracked=1, idle_evict=100.0)
    watch = CapWatch("sesd.tags.capped", table, "raise it", {"tag": "campaign"})
    table.label("spring", 0.0)
    log = get_logger()
    with capture_logs() as logs:
        table.label("summer", 10.0)  # past max_tracked = 1
        watch.round(10.0, log)
        for now in range(20, 300, 20):
            assert table.label(tag_label("no tag value"), float(now)) == OTHER
            watch.round(float(now), log)
        assert table.overflow == 1
        table.label("autumn", 300.0)
        watch.round(300.0, log)
    assert [log["event"] for log in logs] == ["sesd.tags.capped"] * 2


def test_a_recipient_at_the_domain_other_itself_is_no_cap() -> None:
    """A stranger's recipient at the domain ``other`` counts under the label ``other``
    with the table not full: no value was past the bound, so no warning; the first that
    is, is warned of."""
    table = LabelTable(max_tracked=2, idle_evict=100.0)
    watch = CapWatch("sesd.domains.capped", table, "raise it", {})
    log = get_logger()
    with capture_logs() as logs:
        assert table.label(OTHER, 0.0) == OTHER
        table.label("a.example", 0.0)
        watch.round(1.0, log)
        assert logs == []
        table.label("b.example", 2.0)
        table.label("c.example", 2.0)  # past max_tracked = 2
        watch.round(3.0, log)
    assert [log["event"] for log in logs] == ["sesd.domains.capped"]


def test_a_restart_from_a_state_file_holding_other_warns_at_the_next_value_past_it() -> None:
    """A state file saved with each table full and ``other`` in use: the restart holds
    ``other`` again, but no value has counted there since, so its rounds say nothing
    (what the last run warned of is not warned of again); the first new value past
    ``max_tracked`` is, once for each table."""
    settings = core_settings(parse_config(_QUEUE + "".join(cap[0] for cap in _CAPS.values())))

    def mail(n: int) -> str:
        tags = {"campaign": [f"c{n}"], "ses:tenant-name": [f"t{n}"]}
        return f.raw(f.delivery([f"r@d{n}.example"], tags=tags))

    before = Pipeline(settings)
    for n in range(3):
        assert before.feed(mail(n), "eu", f.T0).outcome == "processed"
    after = Pipeline(settings)
    after.ledger.restore(before.ledger.snapshot(f.T0 + 1.0), f.T0 + 2.0)
    tables = [after.ledger.domains, after.ledger.tenant_labels, *after.ledger.tag_tables.values()]
    assert all(OTHER in table.last_seen for table in tables)
    watches, log = cap_watches(after.ledger), get_logger()
    with capture_logs() as logs:
        for watch in watches:
            watch.round(f.T0 + 3.0, log)
        assert logs == []
        assert after.feed(mail(3), "eu", f.T0 + 4.0).outcome == "processed"
        for watch in watches:
            watch.round(f.T0 + 5.0, log)
    assert sorted(log["event"] for log in logs) == [
        "sesd.domains.capped", "sesd.tags.capped", "sesd.tenants.capped"
    ]  # fmt: skip


@pytest.mark.parametrize(
    ("step", "monotonic", "warnings"),
    [
        # A day back, then a value past the cap idle_evict (an hour) and 10 s after the
        # first: a new spell, though the wall clock reads a day earlier.
        (-86400.0, 3610.0, 2),
        # A day ahead, then a value 10 s after the first: the same spell.
        (86400.0, 10.0, 1),
    ],
)
async def test_a_step_of_the_wall_clock_neither_holds_nor_ends_a_spell(
    monkeypatch: pytest.MonkeyPatch, step: float, monotonic: float, warnings: int
) -> None:
    """The daemon moves the times its ledger keeps with a step of the wall clock (NTP
    setting it): a label's last seen, so ``other``'s, which timed a spell. The spell's
    own time stayed where the clock had been: a step back of a day held a spell open a
    day past ``idle_evict`` (a value the cap counted after an hour of none went
    unwarned), and a step ahead ended it at once (the next value warned again). The
    spell is timed on the clock no step moves."""
    config = '[domains]\nmax_tracked = 2\nidle_evict = "1h"\n'
    pipeline = Pipeline(core_settings(parse_config(_QUEUE + config)))
    clock = {"wall": f.T0, "monotonic": 0.0}

    def deliver(value: str) -> None:
        assert pipeline.feed(f.raw(_domain(value)), "eu", clock["wall"]).outcome == "processed"

    for value in ["a.example", "b.example"]:
        deliver(value)
    rounds = Rounds(pipeline, monkeypatch)
    with capture_logs() as logs, anyio.fail_after(20):
        async with anyio.create_task_group() as tg:
            tg.start_soon(rounds.janitor(lambda: clock["wall"], lambda: clock["monotonic"]))
            deliver("c.example")  # past max_tracked = 2: a spell
            await rounds.after(2)
            # The wall clock stepped, told to the ledger as the daemon tells it.
            clock["wall"] += step + monotonic
            clock["monotonic"] += monotonic
            pipeline.ledger.stepped(step, clock["wall"])
            deliver("d.example")
            await rounds.after(2)
            tg.cancel_scope.cancel()
    capped = [log for log in logs if log["event"] == "sesd.domains.capped"]
    assert len(capped) == warnings
