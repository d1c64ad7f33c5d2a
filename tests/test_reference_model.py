"""The windows held to the reference model (tests/reference.py) on generated streams:
events out of order, duplicates in every form, late and future events, idle gaps
longer than the largest window, wall-clock steps both ways (some told to the ledger
as the daemon tells it a step it measures, NTP setting the clock right among them),
and restarts from the state file at random points (some after the clock stepped back
while sesd was stopped). Counts, ratios and pending must match exactly;
quantiles fall in the same log bucket as the exact value (so within the sketch's
stated error)."""

from __future__ import annotations

import os
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import pytest
from hypothesis import HealthCheck, example, given, settings
from hypothesis import strategies as st

from sesd.alerting.evaluator import Evaluator
from sesd.config import core_settings, parse_config
from sesd.core.events import EVENT_TYPES
from sesd.core.pipeline import Pipeline
from sesd.core.sketch import bucket_of, bucket_value
from sesd.runtime.state import restore, snapshot
from sesd.runtime.state_alerts import MOST_STEP_BACK
from tests import factory as f
from tests.reference import Model, ModelEvent, Window, quantile

CONFIG = parse_config("")
ADDRESSES = ("u1@a.com", "u2@a.com", "u3@b.com", "u4@c.com")
DOMAINS = ("a.com", "b.com", "c.com")
KINDS = ("delivery", "delivery_delay", "bounce", "send", "complaint")
FORMS: tuple[Callable[[dict[str, Any]], str], ...] = (f.raw, f.sns, f.eventbridge)


@dataclass(frozen=True)
class Step:
    """What happens next: time passes (``dt`` seconds), then one action."""

    dt: float
    # event | duplicate | read | restart | ahead | back | behind | step | ntp | stopped
    action: str
    kind: str = "delivery"
    message: int = 0
    recipients: tuple[str, ...] = ()
    lag: float = 0.0
    processing_ms: int = 0
    expires_in: float | None = None
    form: int = 0
    by: float = 0.0  # a step's seconds (step, stopped)


events = st.builds(
    Step,
    dt=st.one_of(st.sampled_from([0.0, 4000.0]), st.integers(0, 700).map(float)),
    action=st.just("event"),
    kind=st.sampled_from(KINDS),
    message=st.integers(0, 6),
    recipients=st.lists(st.sampled_from(ADDRESSES), min_size=1, max_size=3).map(tuple),
    # Out of order, late (whole buckets back, and just inside and outside the widest
    # window), in the future (and further ahead than SES tries a recipient).
    lag=st.one_of(
        st.sampled_from([-100_000.0, -30.0, 300.0, 900.0, 3480.0, 3590.0, 3600.0, 3610.0, 9000.0]),
        st.integers(-40, 4000).map(float),
    ),
    processing_ms=st.sampled_from([150, 800, 1200, 5000, 120_000]),
    # And one no SES event gives (eleven days: SES tries for 14 h at most).
    expires_in=st.sampled_from([None, 20.0, 900.0, 7200.0, 1e6]),
    form=st.integers(0, len(FORMS) - 1),
)
others = st.builds(
    Step,
    dt=st.sampled_from([0.0, 3.0, 20.0]),
    action=st.sampled_from(["duplicate", "read", "restart", "ahead", "back", "behind"]),
    form=st.integers(0, len(FORMS) - 1),
)
# Steps of the clock sesd measures and tells the ledger (NTP, a VM resumed): ahead and
# back, within a bucket, within the widest window, past it, past a day; and one back
# while sesd was stopped, which the restart reads from the state file's save time.
STEPS = (-100_000.0, -7200.0, -3600.0, -600.0, -5.0, 5.0, 600.0, 3600.0, 7200.0, 100_000.0)
steps = st.builds(
    Step,
    dt=st.sampled_from([0.0, 3.0, 20.0]),
    action=st.sampled_from(["step", "step", "ntp", "stopped"]),
    by=st.sampled_from(STEPS),
)
streams = st.lists(st.one_of(events, events, events, others, steps), min_size=5, max_size=60)


class Run:
    """The pipeline and the model, fed the same stream."""

    def __init__(self, retries: bool = False) -> None:
        self.retries = retries
        self.pipeline = Pipeline(core_settings(CONFIG))
        self.evaluator = Evaluator(CONFIG.alerts, [s.name for s in self.pipeline.ledger.specs])
        widest = self.pipeline.ledger.widest
        self.windows = [Window(s.width, s.slots) for s in self.pipeline.ledger.specs]
        self.model = Model(Window(widest.width, widest.slots), self.windows)
        self.true = f.T0
        self.offset = 0.0  # the clock's step: 0, +600 (ahead) or -7200 (behind, for good)
        self.last: tuple[ModelEvent, dict[str, Any]] | None = None
        self.sent: dict[tuple[int, str], float] = {}  # (message, kind) -> event time
        self.resolution: dict[int, str] = {}  # message -> delivery or bounce
        # Counters are not kept across a restart (Prometheus handles their resets):
        # what the processes before counted.
        self.late_before = self.duplicates_before = 0

    @property
    def now(self) -> float:
        return self.true + self.offset

    def step(self, step: Step) -> None:
        self.true += step.dt
        if step.action == "event":
            self.event(step)
        elif step.action == "duplicate" and self.last is not None:
            event, body = self.last
            self.feed(event, FORMS[step.form](body))
        elif step.action == "read":
            self.compare()
        elif step.action == "restart":
            self.restart(0.0)
        elif step.action == "stopped":
            self.restart(-abs(step.by))
        elif step.action == "step":
            self.stepped(step.by)
        elif step.action == "ntp" and self.offset:
            self.stepped(-self.offset)  # the clock set right
        elif step.action == "ahead" and self.offset == 0:
            self.offset = 600.0
        elif step.action == "back" and self.offset > 0:
            self.offset = 0.0
        elif step.action == "behind" and self.offset == 0:
            # Two hours back, for good: more than the widest window, so everything
            # held before is ahead of the clock from then on.
            self.offset = -7200.0

    def stepped(self, by: float) -> None:
        """A step of the clock sesd measures, told to the ledger as the daemon tells it."""
        self.offset += by
        self.pipeline.ledger.stepped(by, self.now)
        self.model.stepped(by, self.now)

    def restart(self, back: float) -> None:
        """A restart from the state file, the clock stepped ``back`` (none, or back)
        while sesd was stopped: the file saved that far ahead is read as such a step."""
        self.late_before += self.pipeline.ledger.tallies.late_events
        self.duplicates_before += self.pipeline.ledger.tallies.messages.get(("q", "duplicate"), 0)
        blob = snapshot(self.pipeline.ledger, self.evaluator, self.now)
        saved_at = self.now
        self.offset += back
        self.pipeline = Pipeline(core_settings(CONFIG))
        self.evaluator = Evaluator(CONFIG.alerts, [s.name for s in self.pipeline.ledger.specs])
        restore(blob, self.pipeline.ledger, self.evaluator, self.now)
        if back < 0 and -back <= MOST_STEP_BACK:
            self.model.restarted(saved_at)
            self.model.stepped(back, self.now)
        else:
            self.model.restarted(self.now, saved_at)

    def event(self, step: Step) -> None:
        kind = step.kind
        if kind in ("delivery", "bounce"):
            # One resolution kind per message: a recipient is delivered or bounced.
            kind = self.resolution.setdefault(step.message, kind)
        key = (step.message, kind)
        if key in self.sent and not (self.retries and kind == "delivery_delay"):
            # One event of a type per message (SES sends one; repeats are duplicates),
            # but for a DeliveryDelay at each of SES's retries, where asked.
            return
        t = round(self.true - step.lag, 3)
        self.sent[key] = t
        recipients = tuple(dict.fromkeys(step.recipients))
        message_id = f"m{step.message}"
        expires = None if step.expires_in is None else round(t + step.expires_in, 3)
        if kind == "delivery":
            body = f.delivery(
                list(recipients), at=t, processing_ms=step.processing_ms, message_id=message_id
            )
        elif kind == "delivery_delay":
            body = f.delay(list(recipients), at=t, expires=expires, message_id=message_id)
        elif kind == "bounce":
            body = f.bounce(list(recipients), at=t, message_id=message_id)
        elif kind == "complaint":
            body = f.complaint(list(recipients), at=t)
            body["mail"]["messageId"] = message_id
        else:
            body = f.simple("Send", list(recipients), at=t)
            body["mail"]["messageId"] = message_id
        event = ModelEvent(kind, message_id, recipients, t, step.processing_ms, expires)
        self.last = (event, body)
        self.feed(event, FORMS[step.form](body))

    def feed(self, event: ModelEvent, body: str) -> None:
        result = self.pipeline.feed(body, "q", self.now, self.now)
        self.model.apply(event, self.now)
        assert result.outcome in ("processed", "duplicate"), result

    def compare(self) -> None:
        now, model, pipeline = self.now, self.model, self.pipeline
        assert pipeline.ledger.tallies.late_events + self.late_before == model.late
        duplicates = pipeline.ledger.tallies.messages.get(("q", "duplicate"), 0)
        assert duplicates + self.duplicates_before == model.duplicates
        for domain in DOMAINS:
            assert pipeline.ledger.pending.count(domain, now) == model.pending(domain, now), domain
            windows = pipeline.ledger.windows.get(domain)
            for index in range(len(self.windows)):
                expected = model.counts(domain, index, now)
                if windows is None:
                    assert not expected
                    continue
                figures = windows.figures(index, now)
                got = {k: n for k, n in zip(EVENT_TYPES, figures.counts, strict=True) if n}
                assert got == expected, (domain, index)
                for summary, values in (
                    (figures.processing, model.processing(domain, index, now)),
                    (figures.delay_duration, model.delay_durations(domain, index, now)),
                ):
                    assert summary.count == len(values), (domain, index)
                    for q, found in zip((0.5, 0.95, 0.99), summary.quantiles, strict=True):
                        exact = quantile(values, q)
                        assert found == (None if exact is None else bucket_value(bucket_of(exact)))


@settings(
    # Fewer under mutation testing (make mutation): every mutant of the core runs it.
    max_examples=30 if os.environ.get("SESD_MUTATION") else 300,
    deadline=None,
    derandomize=True,
    suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large],
)
@given(streams)
def test_windows_match_the_reference_model(stream: list[Step]) -> None:
    """Whatever the stream, after every step the windows, the late counter, the
    duplicates and the pending delays say exactly what the model says."""
    run = Run()
    for step in stream:
        run.step(step)
        run.compare()


# Streams about steps of the clock: few recipients, so that a delay, its retries and
# its Delivery or Bounce meet across steps; events dated near SES's time, some a
# backlog (and so from ahead of a clock behind SES's, late on one ahead); steps out
# and the clock set right again (NTP), some a quarter of an hour apart, so that the
# clock passes where it was; time passing up to SES's 16 h.
step_events = st.builds(
    Step,
    dt=st.sampled_from([0.0, 3.0, 20.0, 300.0, 3600.0, 57_000.0, 57_300.0]),
    action=st.just("event"),
    kind=st.sampled_from(["delivery_delay", "delivery_delay", "delivery", "bounce"]),
    message=st.integers(0, 1),
    recipients=st.lists(st.sampled_from(ADDRESSES[:2]), min_size=1, max_size=2).map(tuple),
    lag=st.one_of(
        st.sampled_from([0.0, 5.0, 30.0, 300.0, 600.0, 1000.0, 3600.0, -600.0, -7200.0]),
        st.integers(0, 1200).map(float),
    ),
    expires_in=st.sampled_from([None, 900.0, 7200.0, 57_000.0, 1e6]),
    form=st.integers(0, len(FORMS) - 1),
)


def _delivery(dt: float) -> Step:
    """u1's Delivery, ``dt`` seconds on, dated when read."""
    return Step(dt, "event", "delivery", recipients=("u1@a.com",))


def _delay(dt: float, lag: float) -> Step:
    """u1's delay, ``dt`` seconds on, dated ``lag`` seconds before it was read."""
    return Step(dt, "event", "delivery_delay", recipients=("u1@a.com",), lag=lag)


stepping = st.lists(
    st.one_of(
        step_events,
        step_events,
        st.builds(
            Step,
            dt=st.sampled_from([0.0, 3.0, 20.0, 1000.0]),
            action=st.sampled_from(["step", "ntp", "ntp", "stopped"]),
            by=st.sampled_from(STEPS),
        ),
        st.builds(Step, dt=st.just(0.0), action=st.sampled_from(["restart", "duplicate"])),
        # And steps the ledger is not told of, as the streams above make them: the
        # windows are in event time, and the table's moves must hold across them.
        st.builds(Step, dt=st.just(0.0), action=st.sampled_from(["ahead", "back", "behind"])),
    ),
    min_size=3,
    max_size=25,
)


@settings(
    max_examples=30 if os.environ.get("SESD_MUTATION") else 500,
    deadline=None,
    derandomize=True,
    suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large],
)
@given(stepping)
# And the stories README tells, each a stream of its own (the random streams make
# each of them but rarely): u1's Delivery read, the clock a wrong step of ten minutes
# back, then NTP's step setting it right once past where it was (a step back kept
# against the next step ahead), then a step ahead, and a delay SES dated between.
@example(
    [
        _delivery(0.0),
        Step(0.0, "step", by=-600.0),
        Step(1000.0, "ntp"),
        Step(0.0, "step", by=600.0),
        _delay(0.0, 700.0),
    ]
)
# The same, NTP's step an hour: it moves the Delivery by as much less.
@example(
    [
        _delivery(0.0),
        Step(0.0, "step", by=-600.0),
        Step(1000.0, "step", by=3600.0),
        _delay(0.0, -2300.0),
    ]
)
# A delay read, the clock ten minutes back, and u1's Delivery read on it, from ahead.
@example([_delay(0.0, 0.0), Step(0.0, "step", by=-600.0), _delivery(20.0)])
# u1's Delivery read, the clock ten minutes back, a restart, NTP setting it right,
# and a delay SES dated before the Delivery.
@example(
    [
        _delivery(0.0),
        Step(0.0, "step", by=-600.0),
        Step(0.0, "restart"),
        Step(1000.0, "ntp"),
        _delay(0.0, 1300.0),
    ]
)
# u1's Delivery read, the clock ten minutes back, and a restart on a clock over a day
# behind the save (its time read as damaged): a delay read then is over, timed from
# where the step put the Delivery.
@example(
    [
        _delivery(0.0),
        Step(0.0, "step", by=-600.0),
        Step(0.0, "stopped", by=-100_000.0),
        _delay(0.0, 0.0),
    ]
)
# u1's delay read on a clock ten minutes behind SES's, NTP setting it right, and a
# restart on a clock over a day behind: the move is held to it, and the delay pends
# 16 h from its first time, not ten minutes past.
@example(
    [
        Step(0.0, "step", by=-600.0),
        _delay(0.0, 0.0),
        Step(0.0, "ntp"),
        Step(0.0, "stopped", by=-100_000.0),
        Step(157_300.0, "read"),
    ]
)
# u1's delay and its Delivery read, a restart (on a clock over a day behind the save,
# or on the same clock), and a retry SES dated before the Delivery: over, and timed no
# more than it was (the state file keeps which Delivery timed a delay).
@example(
    [
        _delay(0.0, 0.0),
        _delivery(0.0),
        Step(0.0, "stopped", by=-100_000.0),
        _delay(0.0, 5.0),
    ]
)
@example([_delay(0.0, 0.0), _delivery(0.0), Step(0.0, "restart"), _delay(0.0, 5.0)])
# u2's delay read, expiring in a quarter of an hour, the clock two hours back, and a
# retry dated on it (from ahead of it) whose expirationTime is 57,000 s on: it pends
# until then (read 60,000 s on the clock behind, it still does), SES's own time within
# 16 h of the first delay, not until 16 h after the retry's time on the clock behind.
@example(
    [
        Step(0.0, "event", "delivery_delay", 1, ("u2@a.com",), expires_in=900.0),
        Step(3.0, "step", by=-7200.0),
        Step(0.0, "event", "delivery_delay", 1, ("u2@a.com",), expires_in=57_000.0),
        Step(60_000.0, "read"),
    ]
)
def test_steps_of_the_clock_match_the_reference_model(stream: list[Step]) -> None:
    """Whatever steps the clock makes around a recipient's delays and its Delivery or
    Bounce (ahead, back, set right, across a restart), pending, the windows and how
    long each delay lasted say exactly what the model says."""
    run = Run(retries=True)
    for step in stream:
        run.step(step)
        run.compare()


@pytest.mark.parametrize(
    ("ahead", "dated", "later"),
    [(0.0, 0.0, 0.0), (0.0, 4000.0, 4000.0), (100_000.0, 100_000.0, 0.0),
     (100_000.0, 104_000.0, 4000.0), (100_000.0, 80_000.0, 0.0)],
    ids=["with it", "an hour after it", "ahead, with it", "ahead, an hour after it",
         "ahead, SES dated the delay before it"],
)  # fmt: skip
def test_a_restart_holds_a_delivery_dated_after_its_save_to_the_clock(
    ahead: float, dated: float, later: float
) -> None:
    """u1's Delivery SES dated ``ahead`` of the clock (dated on it, if later), the clock
    two hours behind, a restart, and ``later`` seconds on, u1's delay SES dated
    ``dated`` after the Delivery was read. The pipeline is told no step: the file holds
    a Delivery dated after its save, which the restart holds to its clock, and SES's
    time of it to a day after that. The delay is timed from there, or pends when read
    after it on the clock, and the model says the same. Before, the model kept the
    Delivery where it was: the delay was timed from it, two hours long where sesd
    timed it from the restart, or over where sesd said it pended; or timed as SES
    dated the two, though sesd's restart held SES's time of the Delivery before the
    delay's."""
    run = Run()
    delay = Step(later, "event", "delivery_delay", recipients=("u1@a.com",), lag=later - dated)
    for step in (Step(0.0, "event", "delivery", recipients=("u1@a.com",), lag=-ahead),
                 Step(0.0, "behind"), Step(0.0, "restart"), delay):  # fmt: skip
        run.step(step)
        run.compare()
    assert run.model.pending("a.com", run.now) == (1 if later else 0)
