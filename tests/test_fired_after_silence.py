"""The thresholds an alert fired under, kept where a reload changed its rule since
(sesd.alerting.rechecked), after an earlier incident of the same alert ended
with no resolve sent (a silence recalled its page before any sink took it): the
entry of that incident must not stand in for the new one's, which a reload dropped
with it, so the new incident's resolve no longer said the rule had changed, and a
sink a later reload names anew or drops was told the thresholds in force."""

from __future__ import annotations

from pathlib import Path

from sesd.alerting.silence_file import SilenceFile
from sesd.alerting.silences import Silence
from sesd.config import parse_config
from tests.test_routing import RULE, T, _queued, _silenceable
from tests.test_rules import feed_spike


async def test_a_new_incident_keeps_the_thresholds_it_fired_under(tmp_path: Path) -> None:
    """a.example fires above 20% (ops holds the page, untaken); a reload moves the rule
    to 30%. A silence recalls the page, and the alert ends under it: no resolve. The
    silence over, a.example fires again, above 30%; a reload moves the rule to 40%:
    the alert fired under 30%, and its resolve would say so."""
    alerting, pipeline, now, silences = await _silenceable(tmp_path, ("ops",), "0s")
    text = (
        f'[alerts]\ngroup_wait = "0s"\nsilences_path = "{silences}"\n'
        '[alerts.sinks.ops]\ntype = "console"\n' + RULE + 'sinks = ["ops"]\n'
    )
    feed_spike(pipeline, "a.example", T, 5, 5)
    alerting.evaluate()
    assert len(alerting.outboxes["ops"]._queue) == 1  # the page, untaken
    alerting.reconfigure(parse_config(text.replace("0.2", "0.3")))
    held = Silence(id="s1", comment="c", starts_at=T, ends_at=T + 60, domain="a.example")
    SilenceFile(str(silences)).add(held, T)
    now[0] = T + 1
    alerting.evaluate()
    assert alerting.evaluator.states["delays"]["a.example"].notified is False
    feed_spike(pipeline, "a.example", T + 2, 0, 100)
    now[0] = T + 2
    alerting.evaluate()  # ended under the silence: no resolve, none had its page
    assert _queued(alerting, "ops") == []
    feed_spike(pipeline, "a.example", T + 61, 300, 0)
    now[0] = T + 61
    alerting.evaluate()
    # Paged under 30%: the earlier incident's 20% does not describe this one.
    (page,) = alerting.outboxes["ops"]._queue
    assert [a.threshold for a in page.alerts] == [0.3]
    assert _queued(alerting, "ops") == [("firing", ["a.example"])]
    since = alerting.evaluator.states["delays"]["a.example"].since
    alerting.reconfigure(parse_config(text.replace("0.2", "0.4")))
    fired = alerting.evaluator.rechecked.fired
    assert [(key, rule.above, at) for key, (rule, at) in fired.items()] == [
        (("delays", "a.example"), 0.3, since)
    ]
