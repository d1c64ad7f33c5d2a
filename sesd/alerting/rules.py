"""Alert rules, as a pure state machine per (rule, domain).

States: inactive -> pending (while ``for`` runs) -> firing -> resolved (and
inactive again). An alert *breaches* when its value is above ``above`` and the
window's volume (the metric's denominator) reaches ``min_events``. It fires
once the breach has held for ``for``; pending falls back to inactive as soon
as the breach stops. Once firing, it resolves only when the value falls below
``clear_below`` or reaches it (hysteresis; ``above`` when left out) or the
window holds no data; a value between the two thresholds
keeps it firing, so input that flaps around ``above`` does not
flap the alert. While firing, a repeat is due every ``repeat_interval``.

A window that reads no data only because sesd could not have seen the data yet
(just started, the wall clock just stepped, the process stood still, or it
reads events older than the window: they fall outside it) says nothing about
the incident: a ``blind`` step keeps a firing alert as it is, value and repeats
included, instead of resolving it (:class:`Blindness`).

Time is a parameter; nothing here reads a clock.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from enum import StrEnum

from sesd.config import RuleConfig
from sesd.core.events import EVENT_TYPE_INDEX
from sesd.core.tallies import Tallies
from sesd.core.windows import Figures

__all__ = [
    "FIRING",
    "INACTIVE",
    "PENDING",
    "RESOLVED",
    "AlertState",
    "Blindness",
    "Status",
    "Transition",
    "breaches",
    "has_waited",
    "measure",
    "step",
    "told_ended",
]


class Status(StrEnum):
    """Where an alert is in its life."""

    INACTIVE = "inactive"
    PENDING = "pending"
    FIRING = "firing"


#: The statuses as module names, for what runs at every step of every label (and at
#: every label's visit, quiet or not): in Python 3.11 a member read through its class
#: (``Status.FIRING``) goes through the ``__getattr__`` hook of the enum's metaclass,
#: about 800 instructions a read where a module name costs a few dozen.
INACTIVE, PENDING, FIRING = Status.INACTIVE, Status.PENDING, Status.FIRING
#: Where :func:`measure` finds its three counts in a window's (``Figures.count`` for each,
#: a call and a lookup by name, were about 1,500 instructions of every step).
_DELIVERY, _DELAY, _BOUNCE = (EVENT_TYPE_INDEX[t] for t in ("delivery", "delivery_delay", "bounce"))


@dataclass(slots=True)
class Blindness:
    """When a window without data says nothing of an incident: for a window's length
    from ``since`` (a start, a clock step, a stall: the events that came meanwhile are
    still in flight), and while a queue read within the window is read further behind
    than it (``tallies``: the events sesd reads are older than the window, and what
    would fill it waits in the queue)."""

    since: float = float("-inf")
    tallies: Tallies | None = None

    def of(self, window: float, now: float) -> bool:
        """Whether a window of ``window`` seconds without data is blind at ``now``."""
        if now - self.since < window:
            return True
        return self.tallies is not None and self.tallies.behind(now, window) > window

    def unseen(self, window: float, now: float) -> bool:
        """Whether sesd reads more than ``window`` behind: a delay it counts as pending
        may have ended in a Delivery it has not read yet (a backlog drains in event
        order), so a count of pending delays says nothing then."""
        return self.tallies is not None and self.tallies.behind(now, window) > window

    def thin(self, window: float, now: float) -> bool:
        """Whether a window of ``window`` seconds holds less than half its span of what
        the queues have: sesd reads more than half a window behind (catching up after
        a restart, a backlog draining). Its value is then a slice of the time it
        covers, too thin to resolve an alert on."""
        return self.tallies is not None and self.tallies.behind(now, window) > window / 2


class Transition(StrEnum):
    """What a step asks to notify."""

    FIRING = "firing"
    REPEAT = "repeat"
    RESOLVED = "resolved"


#: As the statuses above: asked of every step's transition.
RESOLVED = Transition.RESOLVED


@dataclass(slots=True)
class AlertState:
    """One (rule, domain)'s state. Mutable: :func:`step` advances it in place."""

    status: Status = Status.INACTIVE
    since: float = 0.0  # when the breach began (pending) or the alert fired
    last_sent: float = 0.0  # last firing or repeat notification
    value: float | None = None
    #: When it last resolved. On a firing state (from a state file of an earlier build,
    #: which saved an undelivered resolve so; this build keeps it apart, as
    #: sesd.alerting.retiring says): its resolve was decided then but not delivered
    #: before sesd stopped, so no blind step holds it.
    resolved_at: float | None = None
    #: Whether this firing was notified (False while a silence holds it back).
    notified: bool = False
    #: Whether its last step held it firing on a window too thin to resolve on (its
    #: ``value`` is then the figure it last fired at, or resolved at). Saved: a resolve
    #: owed and held so was told meanwhile, and its alert firing after a second restart
    #: fires anew.
    held: bool = field(default=False, compare=False)

    def moved(self, step: float) -> None:
        """Its times on a wall clock stepped by ``step`` seconds since they were read:
        moved as far (sesd.alerting.clock_steps)."""
        self.since += step
        self.last_sent += step
        if self.resolved_at is not None:
            self.resolved_at += step


def measure(
    metric: str, figures: Figures, pending: int, cause_count: int = 0, suppressed: int = 0
) -> tuple[float | None, int]:
    """A rule metric's value in a window and the volume ``min_events`` is checked against:
    the ratio's denominator, or for a quantile the observations in the window.
    ``cause_count`` is, for ``cause_ratio``, the delayed recipients of the rule's cause;
    ``suppressed``, for a ``bounce_ratio`` that asks for them, the recipients a
    suppression list kept SES from sending to (counted as bounced)."""
    counts = figures.counts
    delivered, delayed, bounced = counts[_DELIVERY], counts[_DELAY], counts[_BOUNCE]
    if metric == "delay_ratio":
        return figures.delay_ratio, delivered + delayed
    if metric == "delayed_recipients":
        return float(delayed), delivered + delayed
    if metric == "bounce_ratio":
        if suppressed:
            total = delivered + bounced + suppressed
            return (bounced + suppressed) / total, total
        return figures.bounce_ratio, delivered + bounced
    if metric == "complaint_ratio":
        return figures.complaint_ratio, delivered + bounced
    if metric == "delivery_ratio":
        return figures.delivery_ratio, figures.count("send")
    if metric == "processing_p95_seconds":
        return _seconds(figures.processing.p95), figures.processing.count
    if metric == "delay_duration_p95_seconds":
        return _seconds(figures.delay_duration.p95), figures.delay_duration.count
    if metric == "pending_delays":
        return float(pending), delivered + delayed
    if metric == "cause_ratio":
        total = delivered + delayed
        return (cause_count / total if total else None), total
    raise ValueError(f"unknown metric {metric!r}")


def _seconds(ms: float | None) -> float | None:
    return None if ms is None else ms / 1000.0


def _holds(rule: RuleConfig, value: float | None) -> bool:
    """Whether a firing alert keeps firing (RuleConfig.holds); leaving ``clear_below``
    out and writing ``clear_below = above`` behave the same, and an ``above = 0`` rule
    resolves when its value is back to 0."""
    return value is not None and rule.holds(value)


def breaches(rule: RuleConfig, value: float | None, volume: int) -> bool:
    """Whether ``value`` is past ``above`` on a window holding ``min_events`` (as
    :func:`step` has it inline: it runs at every step of every label)."""
    return value is not None and rule.breaches(value) and volume >= rule.min_events


def has_waited(start: float, now: float, period: float) -> bool:
    """Whether ``period`` has passed since ``start``. A start ahead of ``now`` (the wall
    clock stepped back since) has waited: a step back must not hold a notification
    for as long as the step."""
    return not 0.0 <= now - start < period


def less_a_tenth(period: float, tick: float) -> float:
    """``period`` less a tenth of the evaluation ``tick`` (``period`` itself when
    shorter): what counts as having waited ``period`` at a tick. The ticks run on the
    monotonic clock, ``now`` is the wall clock's: one slewed slow (chrony, by up to 8%)
    reads a span of ticks a little short, as does a tick that began later than the one
    it is measured from (the loop was busy), and what waits a whole number of ticks
    would wait a whole tick more."""
    early = tick / 10
    return period - early if period > early else period


def _stepped_back(state: AlertState, now: float) -> None:
    """The wall clock stepped back past when the alert began pending or was last sent,
    by a step no process measured (under the clock's tolerance, or a time a state file
    holds ahead of its own save: a running sesd moves its times with the clock, and a
    restart those of a file saved ahead of it, sesd.alerting.clock_steps):
    counted from now, so the step costs at most one `for` or repeat_interval, not the
    step's length on top (an hour's step back held a pending page an hour). A firing
    alert fired no later than now: a start ahead of its end is refused (Alertmanager
    answers 400 to every resend and to the resolve)."""
    if state.since > now and state.status is not INACTIVE:
        state.since = now
    if state.status is FIRING and state.last_sent > now:
        state.last_sent = now


def _firing(
    rule: RuleConfig,
    state: AlertState,
    value: float | None,
    volume: int,
    now: float,
    repeat_interval: float,
    blind: bool,
    thin: bool,
    tick: float,
) -> Transition | None:
    """:func:`step` of a firing alert: it resolves, fires anew, repeats, or is held."""
    was_held, state.held = state.held, False
    if thin and (state.resolved_at is not None or not _holds(rule, value)):
        return _held(state, now, repeat_interval, tick)
    if state.resolved_at is not None and was_held:
        # Told resolved meanwhile (Alertmanager posted it ended then, at its figure): the
        # resolve goes out as it was told, whatever the full window reads. Made at what
        # it reads, it ended at this start, endsAt and "fired for" stretched by the
        # downtime and the backlog; and breaching, it read "resolved at 35%". Breaching,
        # it is a new incident, after this one: sent the firing alone, PagerDuty took it
        # into the incident still open, Slack showed a second firing. The same reading's
        # next step, at once, begins it: pending under a `for`, as any new breach, or
        # fired (sesd.alerting.evaluator); a value between the thresholds begins none.
        state.status = INACTIVE
        state.resolved_at = min(state.resolved_at, now)
        return RESOLVED
    if not _holds(rule, value):
        return _resolved(rule, state, value, now, blind)
    state.value = value
    # Firing on what it reads: a resolve a stop left undelivered is undone (kept,
    # no data at a stall would resolve it, as a resolve decided before the stop).
    state.resolved_at = None
    return _reminder(state, now, repeat_interval, tick)


def _resolved(
    rule: RuleConfig, state: AlertState, value: float | None, now: float, blind: bool
) -> Transition:
    """A firing alert resolves at ``now``, on ``value``. A blind step without data gets
    here only with a resolve decided before a stop (:func:`step`), nothing read since
    (the window emptied over the stop): that resolve is made again so, at its figure
    and when it ended. Told "no data" at the start, it read as mail stopped, the
    incident as the downtime. (Not where the rule in force fires at that figure:
    "resolved at 10%" then read against thresholds that keep it firing.)"""
    state.status = INACTIVE
    owed = state.resolved_at
    if blind and value is None and owed is not None and not _holds(rule, state.value):
        state.resolved_at = min(owed, now)
    else:
        state.value, state.resolved_at = value, now
    return RESOLVED


def _held(state: AlertState, now: float, repeat_interval: float, tick: float) -> Transition | None:
    """A firing alert held by a window too thin to resolve on: it tells what was last
    known of it, its figure left as it last fired (or resolved) at. One whose resolve,
    decided before a stop, is owed gets no reminder (it would page the incident firing),
    whatever the thin window reads: that resolve or a new firing waits for a full one."""
    state.held = True
    return _reminder(state, now, repeat_interval, tick) if state.resolved_at is None else None


def _reminder(
    state: AlertState, now: float, repeat_interval: float, tick: float
) -> Transition | None:
    """A firing alert's reminder, when its ``repeat_interval`` has passed since it was
    last sent (a tenth of an evaluation short counts: :func:`less_a_tenth`)."""
    if now - state.last_sent >= less_a_tenth(repeat_interval, tick):
        state.last_sent = now
        return Transition.REPEAT
    return None


def told_ended(state: AlertState) -> bool:
    """Whether the firing ``state``'s sinks were told it ended (its resolve, decided
    before a stop, owed and held by a thin window: :func:`_held`): the step that makes
    that resolve may be followed, at once, by the step of a new incident."""
    return state.held and state.resolved_at is not None and state.status is FIRING


def step(
    rule: RuleConfig,
    state: AlertState,
    value: float | None,
    volume: int,
    now: float,
    repeat_interval: float,
    blind: bool = False,
    thin: bool = False,
    *,
    tick: float = 0.0,
) -> Transition | None:
    """Advance ``state`` to ``now`` given the current value; returns what to notify.
    ``blind``: no data now means nothing (a firing alert without data stays as it is);
    ``thin``: the window holds too little of its span to resolve on (a firing alert
    stays firing, :func:`_held`); ``tick``: the evaluation period, of which a tenth
    short of ``for`` counts as held, and of ``repeat_interval`` as due
    (:func:`less_a_tenth`)."""
    if blind and value is None and state.status is FIRING and state.resolved_at is None:
        return None
    if state.since > now or state.last_sent > now:  # rare: a call only then
        _stepped_back(state, now)
    if state.status is FIRING:
        return _firing(rule, state, value, volume, now, repeat_interval, blind, thin, tick)
    state.value = value
    breach = value is not None and rule.breaches(value) and volume >= rule.min_events
    if not breach:
        state.status = INACTIVE
        return None
    if state.status is INACTIVE:
        state.status = PENDING
        state.since = now
    if now - state.since >= less_a_tenth(rule.for_.seconds, tick):
        state.status = FIRING
        state.since = state.last_sent = now
        state.resolved_at = None
        return Transition.FIRING
    return None
