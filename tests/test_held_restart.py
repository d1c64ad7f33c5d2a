"""An alert whose resolve a stop left undelivered, held by a window too thin to make
that resolve again (sesd reading a backlog far behind), is told resolved meanwhile
(Alertmanager is posted it so): should it fire still once the window fills, that is
a new firing, paged once to every sink of the rule. It stays so across a second stop
made while the window was still thin, and through a silence in force when it fires
anew: its page then goes out once the silence ends, as any silenced firing's does."""

from __future__ import annotations

from sesd.alerting.rules import Transition
from sesd.alerting.silences import Silence, SilenceSet
from tests.test_rule_changes import T
from tests.test_rules import feed_spike
from tests.test_thin_window_reminders import _restored_thin

PAGER = 'sinks = ["pager"]\n'


def test_a_held_resolve_firing_anew_under_a_silence_is_paged_once_it_ends() -> None:
    """Held on the thin window, the alert fires anew on a full one while a silence
    holds a.example: nothing is sent then; once the silence ends, the new firing is
    paged, as any firing a silence held back is (reminders alone were not the page)."""
    after, pipeline = _restored_thin(PAGER)
    silence = Silence(id="s1", comment="deploy", starts_at=T, ends_at=T + 600, domain="a.example")
    after.silences = SilenceSet([silence])
    feed_spike(pipeline, "a.example", T + 5, 60, 0)
    pipeline.ledger.tallies.received("q", T + 5, 1.0)  # caught up
    after.evaluate(pipeline.ledger, T + 5)
    assert after.due(T + 5, flush=True) == []
    feed_spike(pipeline, "a.example", T + 600, 60, 0)
    pipeline.ledger.tallies.received("q", T + 600, 1.0)
    after.evaluate(pipeline.ledger, T + 600)
    sent = [(n.kind, n.sinks) for n in after.due(T + 600, flush=True)]
    assert sent == [(Transition.FIRING, ("pager",))]
