"""SES's own view of each (account, region), polled every ``poll_every``.

SESv2 ``GetAccount``: whether sending is enabled, the enforcement status
(HEALTHY, PROBATION, SHUTDOWN), production access and the send quota.
CloudWatch ``GetMetricData``: ``AWS/SES`` ``Reputation.BounceRate`` and
``Reputation.ComplaintRate``, AWS's own figures (read by sesd.account.cloudwatch).
A call that fails (throttled, not permitted) is counted, and logged once per change
of state (failing with a new error, or answering again); it never touches ingestion.
"""

from __future__ import annotations

import math
from collections.abc import Awaitable, Callable
from contextlib import AbstractAsyncContextManager, nullcontext
from functools import partial
from typing import Any

import anyio

from sesd.account.cloudwatch import read_reputation
from sesd.account.codes import error_label
from sesd.account.failures import (
    ERRORS,
    MAX_PAGES,
    EndlessList,
    MetricQueryFailed,
    UnreadableAnswer,
    WatchEnded,
    answer_of,
    code_of,
    hint,
    known_there,
    passing,
    text,
    tries,
)
from sesd.account.flags import watch_answers, watch_flags
from sesd.account.rounds import side_by_side
from sesd.config.aws import CREDENTIALS_REFUSED, KEY_UNKNOWN, region_not_enabled
from sesd.core.accounts import WORD, Accounts, AccountStatus, Target
from sesd.core.text import clean
from sesd.io.aws_errors import assume_role_failure
from sesd.io.logs import get_logger

__all__ = [
    "ERRORS",
    "MAX_PAGES",
    "AccountPoller",
    "ClientFor",
    "During",
    "EndlessList",
    "Polls",
    "tries",
]

#: Makes (or finds) the client of a service for a target.
ClientFor = Callable[[str, Target], Awaitable[Any]]
#: What a round holds while it runs (its clients: a reload closes those it no longer
#: needs once the round has ended).
During = Callable[[], AbstractAsyncContextManager[object]]


class Polls:
    """Rounds of calls to SES's APIs for each target, one now and one every
    ``every`` seconds (:meth:`poll_once`, each poller's own); a failed call is
    counted (by target, API and error code) and logged once per change of state,
    and never raises."""

    def __init__(
        self,
        targets: list[Target],
        client_for: ClientFor,
        accounts: Accounts,
        *,
        component: str,
        every: float,
        clock: Callable[[], float],
        on_change: Callable[[], None],
        apis: tuple[str, ...] = (),
        during: During = nullcontext,
    ) -> None:
        self.accounts = accounts
        self._during = during
        self._apis = apis
        #: Each target's watch, from the start or the reload that added it: a reload
        #: that removes a target and another that adds it back (its account's role
        #: changed, say) begin another, and a call begun under the old one (signed with
        #: the old role's credentials) speaks of nothing watched now.
        self._lives: dict[Target, object] = {}
        self._client_for = client_for
        self._every = every
        self._clock = clock
        self._on_change = on_change
        #: (target, api) -> its error code (with the statuses of queries not complete).
        self._failing: dict[tuple[Target, str], str] = {}
        #: (target, api) -> whether its last failure may pass (throttled, 5xx, no answer).
        self._passing: dict[tuple[Target, str], bool] = {}
        #: Failures of a key AWS does not know, told once the round has ended: whether
        #: another region answered the same credentials in it is known only then.
        self._held: list[tuple[Target, str, str, BaseException]] = []
        #: (target, api) -> the code and hint its last poll_failed line said.
        self._told: dict[tuple[Target, str], tuple[str, str]] = {}
        self.targets = targets
        self._log = get_logger(component=component)

    @property
    def targets(self) -> list[Target]:
        """The (account, region)s polled: at start, and as a reload leaves them."""
        return self._targets

    @targets.setter
    def targets(self, targets: list[Target]) -> None:
        # Each API every round asks has its failed polls exported at 0 from now, not
        # from its first call: a target a reload adds is first polled a round later,
        # and a series that a scrape first sees at 1 hides that failure from increase().
        self._targets = targets
        self._lives = {target: self._lives.get(target) or object() for target in targets}
        # What was told of a target removed goes with it: added back, its failures are
        # told anew (another role's, perhaps), not held as those already said.
        for said in (self._failing, self._passing, self._told):
            for key in [key for key in said if key[0] not in self._lives]:
                del said[key]
        for target in targets:
            for api in self._apis:
                self.accounts.calling(target, api)

    async def run(self) -> None:
        """Poll every target now and every ``every`` seconds (from the start of one
        round to the next: a long round does not push the next ones later), until
        cancelled."""
        while True:
            started = self._clock()
            async with self._during():
                await self.poll_once()
            # Bounded: a clock stepped back mid-round must not hold the next one longer.
            wait = min(self._every, started + self._every - self._clock())
            await anyio.sleep(max(0.0, wait))

    async def poll_once(self) -> None:
        """One round over every target."""
        raise NotImplementedError

    def _life(self, target: Target) -> object | None:
        """The watch a call of ``target`` begun now is made under: the one in force."""
        return self._lives.get(target)

    def _still(self, target: Target, life: object | None) -> bool:
        """Whether ``target`` is watched as it was when ``life`` was taken (from
        :attr:`_lives`): not removed since, nor removed and added back."""
        return life is not None and self._lives.get(target) is life

    async def _call(self, target: Target, api: str, read: Callable[[], Awaitable[None]]) -> bool:
        """Run one API's reads; False (logged and counted) when the call failed."""
        life = self._life(target)
        if self._still(target, life):  # (a reload may have removed it since the round began)
            self.accounts.calling(target, api)
        try:
            await read()
        except ERRORS as exc:
            if not self._still(target, life):
                return False  # a reload removed it meanwhile: nothing of it is kept
            code = code_of(exc)
            self._passing[(target, api)] = passing(exc, code)
            self.accounts.failed(target, api, error_label(exc, code))
            # The log line names the code whatever it is (cleaned and cut: an endpoint
            # that is not SES's may say anything), once per change of it; of queries
            # CloudWatch did not complete, per change of their statuses too (said only
            # there: counted under the one code).
            said = clean(code, WORD)
            seen = f"{said} {exc}" if isinstance(exc, MetricQueryFailed) else said
            key = not assume_role_failure(exc)  # the key's (STS's refusal is the role's)
            if code in CREDENTIALS_REFUSED and key:
                self.accounts.refused(target)
            elif known_there(exc, code):  # (where its credentials work, if refused here)
                self.accounts.answered(target, self._clock())
            if code in KEY_UNKNOWN and key:
                # Each round's: told at its end when its hint changed (another region
                # answered the credentials since, or no longer vouches for them).
                self._failing[(target, api)] = seen
                self._held.append((target, api, said, exc))
            elif self._failing.get((target, api)) != seen:
                self._failing[(target, api)] = seen
                self._failed(target, api, said, hint(api, said, exc))
            return False
        if not self._still(target, life):
            return True  # a watch a reload ended: nothing of the one in force (its failures)
        self.accounts.answered(target, self._clock())  # (where its credentials work)
        self._passing.pop((target, api), None)
        self._told.pop((target, api), None)
        if self._failing.pop((target, api), None) is not None:
            self._log.info(
                "sesd.account.poll_recovered", account=target[0], region=target[1], api=api
            )
        return True

    def _failed(self, target: Target, api: str, said: str, told: str) -> None:
        self._told[(target, api)] = (said, told)
        self._log.warning(
            "sesd.account.poll_failed",
            account=target[0],
            region=target[1],
            api=api,
            error=said,
            hint=told,
        )

    def _tell_held(self, since: float) -> None:
        """Log the round's failures of a key AWS does not know: the region's, when the
        account's credentials were answered in another region since ``since`` (this
        round or the one before), else the key's."""
        held, self._held = self._held, []
        for target, api, said, exc in held:
            if target not in self.targets or self._failing.get((target, api)) != said:
                continue  # removed by a reload, or answering again since
            elsewhere = self.accounts.accepted_elsewhere(target, since)
            told = region_not_enabled(target[1], elsewhere) if elsewhere else hint(api, said, exc)
            if self._told.get((target, api)) != (said, told):
                self._failed(target, api, said, told)

    def _resumable(self, target: Target, api: str) -> bool:
        """Whether the API's last failed call may be asked again as it was (throttled,
        5xx, no answer), rather than from the start (refused: denied, a token SES no
        longer takes)."""
        return self._passing.get((target, api), True)


class AccountPoller(Polls):
    """Polls every target and writes the answers, and the failed calls, into
    ``accounts`` (the ledger's store, which rules and metrics read)."""

    def __init__(
        self,
        targets: list[Target],
        client_for: ClientFor,
        accounts: Accounts,
        *,
        every: float,
        cloudwatch: bool,
        clock: Callable[[], float],
        on_change: Callable[[], None] = lambda: None,
        during: During = nullcontext,
    ) -> None:
        super().__init__(
            targets,
            client_for,
            accounts,
            component="account_health",
            every=every,
            clock=clock,
            on_change=on_change,
            during=during,
            apis=("get_account", "get_metric_data") if cloudwatch else ("get_account",),
        )
        self._cloudwatch = cloudwatch
        for target in targets:
            accounts.record(target)

    async def poll_once(self) -> None:
        """One round over every target, side by side: a region that does not answer
        (its calls tried until they time out) holds back no other's pause."""
        started = self._clock()
        try:
            await side_by_side([partial(self._poll, target) for target in self.targets])
        finally:
            self._tell_held(started - self._every)
            self._on_change()

    async def _poll(self, target: Target) -> None:
        # A reload may remove a target while the round awaits an answer (the ledger
        # forgets it first): the round neither goes on to it nor keeps its answers,
        # which would bring its alerts and metrics back until a restart; nor, added back
        # meanwhile, under the entry as it is now (another role's account, perhaps).
        life = self._lives.get(target)
        if life is None:
            return
        # The status kept, made now if none is (a target a reload added): the tenant
        # poller writes the same one, and one of this round's own, kept only if none
        # was made meanwhile, dropped GetAccount's answer when its walk made one first.
        # A reload removing the target meanwhile drops it from the store: what is
        # written here then goes nowhere.
        status = self.accounts.record(target)
        answered = []
        if await self._call(target, "get_account", partial(self._account, target, status)):
            answered.append("get_account")
        read = partial(self._reputation, target, status)
        # Not asked once a reload removed the target: its account's client would raise.
        ask = self._cloudwatch and self._still(target, life)
        if ask and await self._call(target, "get_metric_data", read):
            answered.append("get_metric_data")
        status.polled_at = self._clock()
        status.answered.update(dict.fromkeys(answered, status.polled_at))

    async def _client(self, service: str, target: Target) -> Any:
        """``target``'s client of ``service``. One a reload removed the target as it was
        made (its account's entry gone: the daemon's clients raise KeyError) ends the
        watch (:class:`WatchEnded`: nothing kept, no failure counted), not the round as a
        fault of sesd's; a failure while the target is watched is raised as it is."""
        life = self._life(target)
        try:
            return await self._client_for(service, target)
        except Exception:
            if self._still(target, life):
                raise
            raise WatchEnded from None

    async def _account(self, target: Target, status: AccountStatus) -> None:
        ses = await self._client("sesv2", target)
        watch_flags(ses)  # (a flag no boolean, a quota figure a boolean: unreadable)
        watch_answers(ses)  # (an answer that is no JSON: unreadable)
        answer = await answer_of(ses.get_account)  # (one the SDK cannot read: failed)
        quota = answer.get("SendQuota", {})
        if not all(map(math.isfinite, quota.values())):
            # The parser's float() of "NaN" or "Infinity" (as the JSON protocols write a
            # double that is no number): a NaN quota used crosses no threshold, and an
            # infinite quota reads as none of it used. Not a figure SES gives.
            raise UnreadableAnswer
        enforcement = text(answer, "EnforcementStatus")  # (no text: none of SES's words)
        before = (status.sending_enabled, status.enforcement)
        # Every field is optional in SES's schema: one left out (an endpoint standing in
        # for SES) says nothing, and what SES last said of it stands, as after a failed
        # poll; read as False, a missing SendingEnabled paged that sending was paused.
        if "SendingEnabled" in answer:
            status.sending_enabled = bool(answer["SendingEnabled"])
        # A status sesd has no name for (the field is a string: AWS may add one) is
        # still SES's word that the account is not HEALTHY: kept, as a word of its.
        if enforcement:
            status.enforcement = clean(enforcement, WORD)
        if "ProductionAccessEnabled" in answer:
            status.production = bool(answer["ProductionAccessEnabled"])
        # So of each figure of the quota: one left out is not read as none.
        status.max_24h = quota.get("Max24HourSend", status.max_24h)
        status.max_rate = quota.get("MaxSendRate", status.max_rate)
        status.sent_24h = quota.get("SentLast24Hours", status.sent_24h)
        if before != (status.sending_enabled, status.enforcement) and before != (None, None):
            self._log.warning(
                "sesd.account.status_changed",
                account=target[0],
                region=target[1],
                sending_enabled=status.sending_enabled,
                enforcement=status.enforcement,
            )

    async def _reputation(self, target: Target, status: AccountStatus) -> None:
        cloudwatch = await self._client("cloudwatch", target)
        await read_reputation(cloudwatch, status, self._clock())
