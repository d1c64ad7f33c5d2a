"""What a step of the wall clock moves in the ledger: the times it keeps of this host's
clock. The daemon measures the step (sesd.runtime.clock) and tells the ledger
(:meth:`~sesd.core.ledger.Ledger.stepped`); the windows and the pending table are kept
in event time (SES's clock) and move with none, but for the table's recent refusals
and the latest each delay pends (an event from ahead of this clock is dated on it).
Pure.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from sesd.core.provider_cache import LONGEST_ANSWER
from sesd.core.tenant_walks import MAX_WALK_AGE

if TYPE_CHECKING:
    from sesd.core.label_table import LabelTable
    from sesd.core.ledger import Ledger

__all__ = ["moved", "restored_behind"]


def moved(ledger: Ledger, step: float, now: float) -> None:
    """Move what ``ledger`` keeps of the wall clock by ``step`` seconds, to ``now``:

    - the canaries' times, and the duplicate filter's open generation's start;
    - when each account's credentials were last answered in each region (where they
      are known to work, which a refusal's hint reads), and when each was last polled,
      each API last answered and its tenant map last made (ages on the status page);
    - the pending table's recent refusals: on a step ahead, those dated on the clock
      it left (:meth:`~sesd.core.refusals.RecentRefusals.stepped`). Left, NTP setting
      a clock an hour behind forgot them an hour early: the status page's note left
      out recipients the pending figures still leave out;
    - the latest each pending delay pends, ``LONGEST_DELAY`` after its first time: on a
      step ahead, those first seen on the clock it left
      (:meth:`~sesd.core.pending.PendingDelays.stepped`). Left, NTP setting a clock an
      hour behind expired them an hour before SES gives up: the pending gauge dropped
      them, and their Delivery then ended no delay; and the time of each Delivery or
      Bounce remembered for a delay SQS brings after it, dated on that clock: left,
      such a delay pended its 16 h, ended by nothing;
    - until when each DNS answer holds (its TTL from its lookup), and the slots the
      pipeline keeps of it;
    - when each domain label, tag value and tenant label was last seen: a step ahead
      past ``idle_evict`` made every one look idle (evicted with its windows at the
      next housekeeping), a step back held an idle one the step's length longer;
    - on a step back, what SES said of each tenant is held to ``now``: a poll's times
      are this clock's, an event's SES's, and which dated each is not kept. Left, a
      poll read on the clock ahead outdid SES's words for the step's length (its pause
      dropped, a tenant deleted kept); moved back as one, SES's own words moved an
      hour back too, and an older one SQS brought late outdid them (a pause lifted
      shown again; after a step ahead and back, a tenant deleted was heard again).
      Held to ``now``, no time is ahead of what SES says next, and none moves back.
      A step ahead leaves them: moved, an event's time would outdo SES's next words;
    - when each tenant walk under way began: a restart resumes one begun within
      :data:`~sesd.core.tenant_walks.MAX_WALK_AGE`. Left, a step ahead aged it the
      step's length (one begun 23 hours before started over), a step back kept one
      over a day old resumed, and a step NTP made after a restart behind the save
      (which moved the start back) did not move it ahead again.
    """
    ledger.canary.stepped(step)
    ledger.dedup.stepped(step)
    ledger.accounts.stepped(step)
    if ledger.providers is not None:
        ledger.providers.stepped(step)
    _seen_moved(ledger, step)
    ledger.pending.refused.stepped(step, now)
    ledger.pending.stepped(step, now)
    for walk in ledger.tenant_walks.walks.values():
        walk.started += step
    if step < 0:
        _tenants_held(ledger, now)


def restored_behind(ledger: Ledger, step: float, now: float, ahead: float) -> None:
    """A state file saved ``ahead`` seconds ahead of ``now``, read at a start
    (sesd.runtime.state): the times it keeps of this host's clock move ``step`` seconds,
    back as far as the file was saved ahead, as its alert times move (none when that is
    more than a day: sesd.runtime.state_alerts.stepped_back), and each still ahead of
    ``now`` is held to it, as at a step back measured (:func:`moved`):

    - when each label was last seen: left, an idle domain was held the step's length
      longer;
    - what SES said of each tenant: left, SES's pause of a tenant a minute after the
      restart was dropped as older than a poll read ahead;
    - the canaries in flight: left, a lost one was missing the step's length after its
      deadline, and one that came back was timed none end to end (its call ahead of its
      Delivery). Their deadline still runs from the restore, which is this clock's;
    - when each account was last polled, each API last answered and its tenant map
      last made: left, the status page showed them ahead of the clock (and
      ``sesd_ses_last_poll_timestamp_seconds`` ahead) until the next poll or walk;
    - until when each DNS answer holds: moved back ``ahead`` seconds whatever that is,
      each holds what was left of it at the save (no longer than a lookup at the start
      would hold it). Left, each held the step's length past its TTL; held to ``now``
      only, a lookup that failed, to be tried again in 5 minutes, waited days. Moved too
      far (a save time damaged ahead), an answer expires early, which costs a lookup.

    - when each tenant walk under way began: left, a walk saved on the clock ahead
      aged the step's length slower, resumed at a restart more than
      :data:`~sesd.core.tenant_walks.MAX_WALK_AGE` old (its first tenants' resources
      too old to complete a map with); one that is, moved back, starts over;
    - the pending table's moves, as a step back measured takes them back (and keeps
      what it takes back past none against the next step ahead:
      :meth:`~sesd.core.pending.PendingDelays.stepped`). Left, held to ``now`` alone,
      NTP's step ahead after the restart moved each delay dated on the clock of the
      save the step: it pended as much past the 16 h SES tries it.

    Held, a file saved a year ahead (its save time damaged, or the clock that far off
    at the save) holds none of them a year; a time behind ``now`` stays."""
    if ledger.providers is not None:
        ledger.providers.stepped(-ahead)
        ledger.providers.held_to(now + LONGEST_ANSWER)  # (an expiry damaged in the file)
    _canaries_back(ledger, step, now)
    ledger.accounts.stepped(step)
    ledger.accounts.held_to(now)
    for table in _seen_tables(ledger):
        table.stepped(step)
        seen = table.last_seen
        for label, at in seen.items():
            seen[label] = min(at, now)
    _tenants_held(ledger, now)
    _walks_back(ledger, step, now)
    if step < 0:
        ledger.pending.stepped(step, now)


def _walks_back(ledger: Ledger, step: float, now: float) -> None:
    """Each tenant walk's start moved ``step`` and held to ``now``; one then older than
    a walk resumes is dropped (the next poll starts it over), with what the status
    page shows of it."""
    walks = ledger.tenant_walks.walks
    for target, walk in list(walks.items()):
        walk.started = min(walk.started + step, now)
        if now - walk.started > MAX_WALK_AGE:
            del walks[target]
            status = ledger.accounts.status.get(target)
            if status is not None:
                status.tenants_listed, status.tenants_mapped = None, 0


def _canaries_back(ledger: Ledger, step: float, now: float) -> None:
    """The restored canaries' times moved ``step`` and held to ``now``; the restore's
    own time (their deadline's start, this clock's) stays."""
    canary, restored_at = ledger.canary, ledger.canary.restored_at
    canary.stepped(step)
    canary.restored_at = restored_at
    for c in canary.canaries:
        c.sent_at = min(c.sent_at, now)
        c.accepted_at = None if c.accepted_at is None else min(c.accepted_at, now)
        c.done_at = None if c.done_at is None else min(c.done_at, now)


def _seen_tables(ledger: Ledger) -> tuple[LabelTable, ...]:
    return (ledger.domains, ledger.tenant_labels, *ledger.tag_tables.values())


def _seen_moved(ledger: Ledger, step: float) -> None:
    for table in _seen_tables(ledger):
        table.stepped(step)


def _tenants_held(ledger: Ledger, now: float) -> None:
    """What SES said of each tenant, and when each list was read, held to ``now``."""
    ledger.tenant_status.lists.held_to(now)
    for status in ledger.tenant_status.status.values():
        status.held_to(now)
