"""A page one sink took and another still held when a silence recalled it, of a rule a
reload removes (before the silence, or after it): the resolve the removal owes
reaches the sink that had the page, whose incident would stay open otherwise, and
the sink the page was recalled from is paged by no one."""

from __future__ import annotations

from pathlib import Path

import pytest

from sesd.alerting.silence_file import SilenceFile
from sesd.alerting.silences import Silence
from sesd.config import parse_config
from tests.test_routing import RULE, T, _queued, _silenceable
from tests.test_rules import feed_spike

#: The reloaded config: ``delays`` gone, another rule on the same sinks.
WITHOUT = (
    '[alerts]\ngroup_wait = "0s"\nsilences_path = "{silences}"\n'
    '[alerts.sinks.ops]\ntype = "console"\n[alerts.sinks.pager]\ntype = "console"\n'
    + RULE.replace('"delays"', '"other"').replace("0.2", "0.9")
    + 'sinks = ["ops", "pager"]\n'
)


@pytest.mark.parametrize("reload_first", [True, False])
async def test_a_recalled_page_of_a_removed_rule_resolves_where_it_was_taken(
    tmp_path: Path, reload_first: bool
) -> None:
    """``delays`` fires on a.example and b.example; ops takes the page, pager still
    holds it. A silence of a.example recalls that from pager, and a reload removes
    ``delays``, in either order. Ops is sent both resolves; pager holds neither the
    page of a.example nor a resolve of it, and b.example's page and resolve."""
    alerting, pipeline, now, silences = await _silenceable(tmp_path, ("ops", "pager"), "0s")
    feed_spike(pipeline, "a.example", T, 5, 5)
    feed_spike(pipeline, "b.example", T, 5, 5)
    alerting.evaluate()
    assert _queued(alerting, "ops") == [("firing", ["a.example", "b.example"])]  # ops took it

    def silence() -> None:
        held = Silence(id="s1", comment="c", starts_at=T, ends_at=T + 3600, domain="a.example")
        SilenceFile(str(silences)).add(held, T)
        now[0] += 1
        alerting.evaluate()

    def reload() -> None:
        alerting.reconfigure(parse_config(WITHOUT.format(silences=silences)))
        now[0] += 1
        alerting.evaluate()

    for step in (reload, silence) if reload_first else (silence, reload):
        step()
    ops = _queued(alerting, "ops")  # in one notification or two
    assert sorted((kind, d) for kind, domains in ops for d in domains) == [
        ("resolved", "a.example"),
        ("resolved", "b.example"),
    ]
    assert _queued(alerting, "pager") == [("firing", ["b.example"]), ("resolved", ["b.example"])]
    assert "delays" not in alerting.evaluator.states
    now[0] += 60
    alerting.evaluate()
    assert _queued(alerting, "ops") == _queued(alerting, "pager") == []
