"""Alertmanager's ``POST /api/v2/alerts``, to every member of a cluster.

Members gossip silences and what they notified, not alerts: each member must get
each alert, as Prometheus posts them. A firing is posted again every
``resend_every``, so a member that missed one catches up; a resolve is posted once,
so a member that missed it would keep the alert firing until its ``endsAt`` and,
at its next flush, notify it again after the others said it resolved. A resolve a
member did not take is owed to it: it goes with the next post that member takes,
or alone once the member's time out is over, until that member would have ended
the alert by itself (VALID_FOR_RESENDS resend periods). At a stop each member owed
is tried once more, its time out waived; what is still owed then is saved in the
state file as not sent (:meth:`owed`), so the restarted sesd resolves it again.

A post's alerts go in bodies of at most MOST_BODY_BYTES, one after another to each
member (a proxy in front of a member refuses a body over its limit for good, 413:
nginx's is 1 MiB by default); Alertmanager takes each alert on its own. A body refused
for good does not hold back the ones after it; a member that fails otherwise (down,
busy) is posted no more of them: what it was owed and did not take stays owed, and so
does a resolve in a body it did not take.

Members are posted to at once, so a member that does not answer costs one timeout,
not one per member; a member that failed sits out for a resend period (posts skip
it), so a hung member costs one timeout a period, not one a notification (with
thirty rules firing, a resend round would otherwise outlast ``endsAt``). Only when
every member tried fails does the outbox retry (posting to all; Alertmanager folds
repeats).
"""

from __future__ import annotations

import time
from collections.abc import Callable, Iterable
from typing import Any, NamedTuple

import aiohttp
import anyio

from sesd.alerting.alert import Alert, Notification
from sesd.alerting.clock_steps import Moves
from sesd.alerting.documents import (
    VALID_FOR_RESENDS,
    alertmanager_bodies,
    alertmanager_documents,
)
from sesd.alerting.rules import Transition
from sesd.alerting.sinks import (
    SLACK_DEFAULT_PAUSE,
    SUCCESS,
    DeliveryError,
    Permanent,
    RateLimited,
    Retryable,
    post_json,
)
from sesd.config import AlertmanagerConfig, shown_url
from sesd.core.timestamps import iso, unix_seconds
from sesd.io.logs import get_logger
from sesd.io.replica import replica_name

__all__ = ["AlertmanagerSink"]

#: Resolves owed to one member at most (the oldest go first): a bound, not a queue.
MAX_OWED = 1000

#: A resolve owed: when it was posted (wall clock), its document, and its alert (what the
#: state file keeps of it: its rule, label, and the labels and severity it was sent with).
_Owed = tuple[float, dict[str, Any], Alert]


class _Failure(NamedTuple):
    """Why a member failed a post, and which of the post's alerts (by place) it did not
    take: none of those refused for good, every one from the body it failed on."""

    error: DeliveryError
    untaken: list[int]


class AlertmanagerSink:
    """Posts each notification's alerts to every member; see the module's text."""

    #: Alertmanager keeps each alert's state, not the messages that set it: a firing
    #: whose resolve waits behind it in the outbox is not posted (Outbox).
    keeps_state = True

    def __init__(
        self,
        config: AlertmanagerConfig,
        session: aiohttp.ClientSession,
        name: str,
        clock: Callable[[], float] = anyio.current_time,
        wall: Callable[[], float] = time.time,
    ) -> None:
        self.name = name
        self.resend_every = config.resend_every.seconds
        self._config = config
        self._session = session
        self._clock = clock
        #: Wall time, as sesd reckons it (Alerting gives it the daemon's clock).
        self.wall = wall
        #: The replica that posts, as each alert's ``host`` annotation names it.
        self.host = replica_name()
        self._log = get_logger(sink=name)
        self._auth: dict[str, str] = {}
        self._hide: tuple[str, ...] = ()
        if config.password is not None:
            login = aiohttp.encode_basic_auth(config.username, config.password.get())
            self._auth = {"Authorization": login}
            self._hide = (config.password.get(), login)
        #: Told of each member that failed while another took the post (a metric).
        self.on_member_failed: Callable[[str], None] = lambda url: None
        #: Member -> when (the event loop's clock) it may be posted to again, after it
        #: failed.
        self._out: dict[str, float] = {}
        #: Member -> each resolved alert it did not take, with when it was posted (wall
        #: clock).
        self._owed: dict[str, list[_Owed]] = {}
        #: The clock steps measured while a post is under way (None: none is), what it
        #: owes a member that missed it is moved by on its return.
        self._stepped: list[Moves] | None = None

    @property
    def endpoint(self) -> object:
        """Where it posts, as :attr:`SlackSink.endpoint`: a member that failed sits out
        by itself (``_out``), so another list of members starts unpaused."""
        return sorted(self._config.urls)

    def adopt(self, old: object) -> None:
        """Take over from ``old``, the sink this one replaces (a reload changed the
        config): each member still listed keeps the resolves it is owed and its time
        out. Forgotten, a member that missed a resolve would keep the alert firing until
        its endsAt, and notify it again at its next flush. Shared, not copied: a post
        the old sink has under way records there what a member misses of it. A member
        no longer listed is posted nothing (:meth:`_listed`); what it was owed is
        forgotten with time."""
        if isinstance(old, AlertmanagerSink):
            self._owed, self._out = old._owed, old._out

    def owing(self) -> float | None:
        """When (the event loop's clock) a member that is owed resolves may be posted to again; None
        when no member is owed any (the outbox calls :meth:`catch_up` then)."""
        self._forget(self.wall())
        due = [self._out.get(url, 0.0) for url in self._listed()]
        return min(due) if due else None

    def _listed(self) -> list[str]:
        """The members owed resolves that the config in force lists."""
        return [url for url in self._owed if url in self._config.urls]

    def owed(self) -> list[tuple[str, str]]:
        """(rule, label) of each resolve a member the config lists is owed: saved as not
        sent, so a restart resolves the alert again (a member left owed a resolve keeps
        the alert firing until its endsAt)."""
        return list(dict.fromkeys((alert.rule, alert.domain) for alert in self.owed_alerts()))

    def owed_alerts(self) -> list[Alert]:
        """Each resolve a member the config lists is owed, once: a restart must tell one
        sent under labels the rule no longer has (a reload changed them) from its own."""
        self._forget(self.wall())
        found = {id(entry[2]): entry[2] for url in self._listed() for entry in self._owed[url]}
        return list(found.values())

    def moved(self, moves: Moves) -> None:
        """The wall clock stepped (measured, ``moves``' step): each resolve a member is
        owed moves its times as far, as the evaluator's (sesd.alerting.clock_steps):
        when it was posted (a member ends the alert by itself as long after), its
        document's startsAt and endsAt (kept at the first post's, a step back posted
        an end an hour ahead, and the member kept the alert firing that long), and its
        alert (saved as not sent). A document owed to several members is moved once."""
        documents = {id(doc): doc for entries in self._owed.values() for _, doc, _ in entries}
        _moved(documents.values(), moves.step)
        for url, entries in self._owed.items():
            self._owed[url] = [(at + moves.step, doc, moves.alert(a)) for at, doc, a in entries]
        if self._stepped is not None:
            self._stepped.append(moves)  # the post under way owes on the new clock

    async def catch_up(self, *, every: bool = False) -> None:
        """Post what each member is owed, to the members whose time out is over (with
        ``every``, to all: the last chance, at a stop)."""
        now = self._clock()
        ready = [url for url in self._listed() if every or self._out.get(url, 0.0) <= now]
        if ready:
            await self._post_all(ready, [], self.wall())

    async def send(self, notification: Notification) -> None:
        """Post the alerts to each member (with ``shared``, not a resolve)."""
        if self._config.shared and notification.kind is Transition.RESOLVED:
            return
        posted = self.wall()
        alerts = alertmanager_documents(
            notification, self.resend_every, posted, shared=self._config.shared, host=self.host
        )
        now = self._clock()
        urls = list(self._config.urls)
        members = [url for url in urls if self._out.get(url, 0.0) <= now] or urls
        self._stepped = []
        try:
            failed = await self._post_all(members, alerts, posted)
        finally:
            stepped, self._stepped = self._stepped, None
        if notification.kind is Transition.RESOLVED:
            subjects = notification.alerts
            for moves in stepped:
                # A step measured during the post: what is owed is on the new clock.
                posted, subjects = posted + moves.step, tuple(map(moves.alert, subjects))
                _moved(alerts, moves.step)
            # Not one a member refused for good (a 4xx): posted again, it would be
            # refused again, with every post it went with.
            missed = {u: f.untaken for u, f in failed.items() if isinstance(f.error, Retryable)}
            missed |= {url: list(range(len(alerts))) for url in urls if url not in members}
            for url, untaken in missed.items():
                self._owe(url, posted, [alerts[i] for i in untaken], [subjects[i] for i in untaken])
        if len(failed) < len(members):
            return
        errors = [failure.error for failure in failed.values()]
        retryable = [exc for exc in errors if isinstance(exc, Retryable)]
        raise retryable[0] if retryable else errors[0]

    async def _post_all(
        self, members: list[str], alerts: list[dict[str, Any]], posted: float
    ) -> dict[str, _Failure]:
        """Post ``alerts``, and what each is owed, to ``members`` at once; returns the
        members that failed, with why and what they did not take (each sits out a
        resend period)."""
        self._forget(posted)
        failed: dict[str, _Failure] = {}

        async def one(url: str) -> None:
            entries = list(self._owed.get(url, []))
            bodies = alertmanager_bodies([*(entry[1] for entry in entries), *alerts])
            done: set[int] = set()  # the places of the alerts taken or refused for good
            refused: list[Permanent] = []
            error: DeliveryError | None = None
            for part, body in bodies:
                try:
                    await self._post(url, body)
                except Permanent as exc:
                    # Refused for good (a 4xx): posted again, its alerts would be
                    # refused again, with every post they went with. The rest still go.
                    refused.append(exc)
                except DeliveryError as exc:
                    error = exc  # down or busy: the rest waits for it to answer
                    break
                done.update(part)
            if error is None and refused:
                error = _refused(refused, len(bodies))
            if error is None:
                self._out.pop(url, None)
            else:
                untaken = [i for i in range(len(alerts)) if len(entries) + i not in done]
                failed[url] = _Failure(error, untaken)
            if entries:
                # Those posted, not as many from the front: a catch-up at a stop may
                # post beside the outbox's, each taking what it found.
                # By document: a clock step meanwhile moves the entries, their documents in place.
                gone = {id(entries[i][1]) for i in done if i < len(entries)}
                left = [entry for entry in self._owed.get(url, []) if id(entry[1]) not in gone]
                if left:
                    self._owed[url] = left
                else:
                    self._owed.pop(url, None)

        async with anyio.create_task_group() as tg:
            for url in members:
                tg.start_soon(one, url)
        others_took = len(failed) < len(members)
        for url, (exc, _) in failed.items():
            self._out[url] = self._clock() + self.resend_every
            # A member's 429 (or 503 with Retry-After) pauses nothing: it sits out a resend
            # period while another takes the posts; when none took it, the outbox pauses
            # and says so (sesd.notify.rate_limited), then posts to all.
            said = _said(exc)
            if others_took:
                self._log.warning(
                    "sesd.notify.member_failed",
                    member=shown_url(url),
                    **said,
                    sitting_out_seconds=self.resend_every,
                )
                self.on_member_failed(url)
            else:
                self._log.warning("sesd.notify.member_failed", member=shown_url(url), **said)
        return failed

    async def _post(self, url: str, body: bytes) -> None:
        """Post one body of alerts to the member at ``url``."""
        await post_json(
            self._session,
            url.rstrip("/") + "/api/v2/alerts",
            body,
            self._config.timeout.seconds,
            ok=SUCCESS,
            min_pause=0.0,
            default_pause=SLACK_DEFAULT_PAUSE,
            headers=self._auth,
            hide=self._hide,
        )

    def _owe(
        self,
        url: str,
        posted: float,
        alerts: list[dict[str, Any]],
        subjects: list[Alert],
    ) -> None:
        owed = self._owed.setdefault(url, [])
        owed.extend(
            (posted, alert, subject) for alert, subject in zip(alerts, subjects, strict=True)
        )
        del owed[:-MAX_OWED]

    def _forget(self, now: float) -> None:
        """Drop the resolves a member has ended by itself since (its copy's endsAt)."""
        horizon = now - VALID_FOR_RESENDS * self.resend_every
        for url in list(self._owed):
            kept = [entry for entry in self._owed[url] if entry[0] > horizon]
            if kept:
                self._owed[url] = kept
            else:
                del self._owed[url]


def _moved(documents: Iterable[dict[str, Any]], step: float) -> None:
    """Move each of Alertmanager's ``documents``' startsAt and endsAt ``step`` seconds, in
    place (the wall clock stepped so)."""
    for document in documents:
        for key in ("startsAt", "endsAt"):
            document[key] = iso(unix_seconds(document[key]) + step)


def _refused(refused: list[Permanent], bodies: int) -> Permanent:
    """Why a member that refused for good ``refused`` of a post's ``bodies`` failed: its
    one refusal, or how many, with the first's text and hint."""
    first = refused[0]
    if bodies == 1:
        return first
    return Permanent(f"{len(refused)} of {bodies} posts refused: {first}", first.hint)


def _said(exc: DeliveryError) -> dict[str, str]:
    """What a member's line says of its failure (``error``, and a 413's ``hint``), without
    the pause a sink's error names (a member takes none: :meth:`AlertmanagerSink._post_all`)."""
    if isinstance(exc, RateLimited):
        # The pause it holds may be a default, not asked.
        return {**exc.logged(), "error": f"HTTP {exc.status}"}
    return exc.logged()
