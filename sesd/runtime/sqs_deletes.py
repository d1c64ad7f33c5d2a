"""What a poller gives back to SQS: the messages it handled, deleted in one batch
(counted already, so one left behind comes back as a duplicate after its visibility
timeout), and those a cancellation caught before their handling, released at once
(visibility 0) rather than hidden until their visibility timeout.

A delete that fails is tried once more; a run of failures is warned of once, and
its length said when deletes work again. One no retry cures (the permission, the
queue gone) is said once at error level, with what it costs. At the old place of a
queue a reload moved or removed, what fails is said at info, as that place's word,
and every line says ``retired``.

A delete or a release that SQS answered is told as it answered, also when a
cancellation or an exit ends the call before the SDK hands the answer back (a hook of
another's still running): SQS did what it says, and a call told cut off would have an
on-call engineer wait for what never comes (redeliveries, or messages hidden until
their visibility timeout). The answer is kept as sesd reads it
(sesd.io.sqs_answers.KEPT; one the SDK reads instead, not SQS's shape, is not: that
call is told cut off).
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any, Protocol

from sesd.config import QueueConfig
from sesd.io.aws_errors import assume_role_failure, error_code
from sesd.io.sdk_blame import answer_too_deep, sesds_own
from sesd.io.sqs_answers import KEPT, Kept, read_outcomes
from sesd.metrics.sqs import QueueCounts
from sesd.runtime.sqs_calls import (
    DENIED,
    SQS_ERRORS,
    batch_entries,
    describe_error,
    hint_for,
    retries,
    said_code,
)

if TYPE_CHECKING:
    from types_aiobotocore_sqs.client import SQSClient
    from types_aiobotocore_sqs.type_defs import MessageTypeDef
else:
    SQSClient = Any
    MessageTypeDef = Any

__all__ = ["Deletes", "Progress", "Released"]


class Progress(Protocol):
    """Where a delete keeps how many it has deleted so far (``so_far``): what one cut
    off in its second try deleted with its first, which would else be lost with it;
    and, for one ended after SQS answered it (:meth:`Deletes._answered`), how many it
    deleted (``deleted``), as when it returns."""

    so_far: int
    deleted: int | None


class Released:
    """How a release ended: ``answered`` once SQS's answer is told, also when a
    cancellation, or an exit, ended the call after it (:meth:`Deletes.release` raises
    it then): the release is not to be told cut off."""

    __slots__ = ("answered",)

    def __init__(self) -> None:
        self.answered = False


def _codes(failed: list[Any]) -> list[str]:
    """The codes of a batch call's failed entries, as text fit for a log line: SQS's are
    short words, but botocore passes on what an endpoint answered (a proxy's, a
    stand-in's: a number, a list, a long or escaping text), which would else raise out
    of the call, the poller's end, or be logged whole."""
    return sorted({said_code(str(f.get("Code", ""))) for f in failed})


#: What a failed entry's codes say of an entry the answer named nowhere.
UNNAMED = "(not named in the answer)"


def _ours(failed: list[Any], sent: set[str], succeeded: list[Any]) -> list[Any]:
    """The failed entries of a batch answer that may be of the entries ``sent``: each
    naming one of them (once), and those naming none by text (which is not known), at
    most one per entry sent. One naming an entry not sent (a proxy's answer, not SQS's)
    is passed over: counted, it would make the delete's count negative. A ``null`` in
    the list (botocore keeps a list's nulls) is an entry that names none.

    An entry sent that the answer names neither failed nor ``succeeded`` (a proxy's
    ``{}``, a page the SDK reads as no lists: SQS names each) fails too, with the code
    :data:`UNNAMED`: done or not is not known, and counted done, a message not deleted
    would pass unseen. Those naming none stand for as many of them, and for no entry
    the answer names successful (counted failed, a message deleted was said undeleted)."""
    named: set[str] = set()
    ours, nameless = [], []
    for f in (e if isinstance(e, dict) else {} for e in failed):
        if not _text(i := f.get("Id")):
            nameless.append(f)
        elif i in sent and i not in named:
            named.add(i)
            ours.append(f)
    done = {i for s in succeeded if isinstance(s, dict) and _text(i := s.get("Id"))}
    unnamed = [{"Id": i, "Code": UNNAMED} for i in sorted(sent - done - named)]
    # Those naming their entry first; a nameless one in place of an entry named nowhere
    # (which message it was is not known: not tried again).
    return ours + nameless[: len(unnamed)] + unnamed[len(nameless) :]


def _text(value: object) -> bool:
    """Whether an answer's member is text, as SQS's always are."""
    return isinstance(value, str)


class Deletes:
    """The deletes and releases of one poller on one queue."""

    def __init__(
        self,
        client: SQSClient,
        queue: QueueConfig,
        counts: QueueCounts,
        log: Any,
    ) -> None:
        self._client = client
        self._queue = queue
        #: What the calls count on the queue's SQS series (none once a reload moved or
        #: removed the queue: the old place's errors are not the new one's).
        self._counts = counts
        self._log = log
        # Its answers kept for the call in flight as they are read (once a client).
        read_outcomes(client)
        self._undeletable = False  # deletes refused for good (reported once)
        #: Batches in a row whose delete left some undeleted (throttled, SQS in trouble).
        self._delete_errors = 0

    async def delete(self, messages: list[MessageTypeDef], progress: Progress | None = None) -> int:
        """Delete the messages a batch handled, in one batch (tried once more); returns
        how many SQS deleted, and keeps the count in ``progress`` as each try answers.
        A cancellation, or an exit, that ends a try after SQS answered it is raised once
        that answer is told, the count kept in ``progress.deleted``."""
        # A message without a receipt handle (not from SQS) cannot be deleted; it is
        # counted as any other.
        entries = batch_entries(messages)
        deleted = 0
        ended: BaseException | None = None  # a cancellation, an exit, after SQS answered
        for attempt in range(2):
            if not entries or ended is not None:
                break
            try:
                call = self._client.delete_message_batch
                response, ended = await self._answered("delete", call, entries)
            except SQS_ERRORS as exc:
                if sesds_own(exc):  # a bug of sesd's: a fault (sesd.io.sdk_blame)
                    raise
                if hint_for(exc) is not None:
                    self._refused_delete(exc, len(entries))
                    return deleted
                self._delete_trouble(
                    "sesd.sqs.delete_failed",
                    error=describe_error(exc),
                    count=len(entries),
                    retrying=attempt == 0,
                    hint="counted already: if not deleted, SQS hands them out again after "
                    "their visibility timeout and they count as duplicates",
                )
                continue
            if self._undeletable:
                self._undeletable = False
                self._log.info("sesd.sqs.delete_recovered", **self.place())
            sent = {e["Id"] for e in entries}
            failed = _ours(response.get("Failed", []), sent, response.get("Successful", []))
            deleted += len(entries) - len(failed)
            if progress is not None:
                progress.so_far = deleted
            if not failed:
                entries = []
                break
            self._counts.error("delete", len(failed))
            # An entry that names no Id, or by no text (a proxy's answer, not SQS's), fails
            # as any other, but which message it was is not known: not tried again. A
            # sender's fault is SQS's boolean true alone (a text "false" is no fault: a
            # delete asked again is harmless).
            retry_ids = {
                i for f in failed if f.get("SenderFault") is not True and _text(i := f.get("Id"))
            }
            self._delete_trouble(
                "sesd.sqs.delete_partly_failed",
                failed=len(failed),
                codes=_codes(failed),
                # 0 once the call was cut off after this answer: no try follows it.
                retrying=len(retry_ids) if attempt == 0 and ended is None else 0,
            )
            entries = [e for e in entries if e["Id"] in retry_ids]
        self._run(left=bool(entries))
        if ended is not None:
            if progress is not None:
                progress.deleted = deleted
            raise ended
        return deleted

    def _run(self, *, left: bool) -> None:
        """A delete's end in the run of those that left some undeleted: one more (``left``),
        or the run's length said as deletes work again."""
        if left:
            self._delete_errors += 1
        elif self._delete_errors:
            self._log.info(
                "sesd.sqs.deletes_recovered", after_batches=self._delete_errors, **self.place()
            )
            self._delete_errors = 0

    async def _answered(
        self, operation: str, call: Any, entries: list[dict[str, Any]]
    ) -> tuple[Any, BaseException | None]:
        """One batch call (a delete's try, a release): SQS's answer, and what ended the
        call after SQS answered (a cancellation, an exit), for the caller to tell the
        answer, make no more calls, and raise it; None if the call returned. What ends
        it before (the module's docstring) is raised. The SDK's retries of a call
        ended so, before SQS's answer or after it, are counted as those of one that
        returned or failed are: from the requests it sent (the SDK adds their count to
        the answer or the error it hands back, which such an end loses)."""
        kept = Kept()
        token = KEPT.set(kept)
        try:
            return await self._batch(operation, call, entries, kept), None
        except BaseException as exc:
            if isinstance(exc, Exception):  # its retries counted by _batch, if SQS's error
                raise
            self._counts.retried(operation, max(kept.tries - 1, 0))
            if kept.answer is None:
                raise
            return kept.answer, exc
        finally:
            KEPT.reset(token)

    def cut_off(self, operation: str) -> None:
        """A delete or a release (``operation``) cut off before SQS answered (its own
        limit, a stop's bound): a failed call, counted as one whose error came back is
        (whether SQS acted on it is not known); a delete's is one more batch of a run
        left undeleted, said when deletes work again."""
        self._counts.error(operation)
        if operation == "delete":
            self._delete_errors += 1

    def _delete_trouble(self, event: str, **fields: Any) -> None:
        """A delete that failed, or partly: a warning when a run of them begins, then at
        debug level (a throttled queue would log a line a batch); the count of the run
        is said when deletes work again (``sesd.sqs.deletes_recovered``)."""
        if self.retired(event, **fields):
            return
        log = self._log.warning if self._delete_errors == 0 else self._log.debug
        log(event, **fields)

    def place(self) -> dict[str, bool]:
        """What a line of the queue's reader says of its place: ``retired`` at the old
        place of a queue a reload moved or removed (all its lines, as :meth:`retired`'s;
        the poller's receive and pipeline lines too), not where a reload that changed
        only how the queue is read (its ``concurrency``, its long poll) left it."""
        return {} if self._counts.in_force() else {"retired": True}

    def retired(self, event: str, **fields: Any) -> bool:
        """Whether the calls are made at the old place of a queue a reload moved or
        removed: then what fails there is logged at info, ``retired``, without its hint
        (the old place's word: sesd reads none of its messages again, and the queue in
        force has nothing to mend), and True."""
        if self._counts.in_force():
            return False
        fields.pop("hint", None)
        self._log.info(event, retired=True, **fields)
        return True

    def _refused_delete(self, exc: BaseException, count: int) -> None:
        """A delete no retry will cure (the permission, the queue gone): said once at
        error level, with what it costs, until a delete works again."""
        if self.retired("sesd.sqs.delete_refused", error=describe_error(exc), count=count):
            return
        if self._undeletable:
            self._log.debug("sesd.sqs.delete_refused", error=describe_error(exc), count=count)
            return
        self._undeletable = True
        hint = hint_for(exc)
        if error_code(exc) in DENIED and not assume_role_failure(exc):  # (STS's: the role's)
            hint = "these credentials may not delete from the queue: grant sqs:DeleteMessage on it"
        self._log.error(
            "sesd.sqs.delete_refused",
            error=describe_error(exc),
            count=count,
            queue_url=self._queue.url,
            hint=f"{hint}; until then each message comes back after its visibility timeout "
            "(counted once, then as a duplicate) and, with a redrive policy, moves to the "
            "dead-letter queue",
        )

    async def release(
        self, messages: list[MessageTypeDef], released: Released | None = None
    ) -> None:
        """Make messages visible again at once (visibility timeout 0). A cancellation, or
        an exit, that ends the call after SQS answered it is raised once that answer is
        told (``released.answered`` then says so)."""
        entries = batch_entries(messages, VisibilityTimeout=0)
        if not entries:
            return
        try:
            call = self._client.change_message_visibility_batch
            answer, ended = await self._answered("release", call, entries)
        except SQS_ERRORS as exc:
            if sesds_own(exc):  # a bug of sesd's: a fault (sesd.io.sdk_blame)
                raise
            said = {"error": describe_error(exc), "count": len(entries)}
            if not self.retired("sesd.sqs.release_failed", **said):
                self._log.warning("sesd.sqs.release_failed", **said)
            return
        sent = {e["Id"] for e in entries}
        failed = _ours(answer.get("Failed", []), sent, answer.get("Successful", []))
        if failed:
            # Not given back (a receipt no longer good, say): counted as a failed delete's
            # entries are; hidden until their visibility timeout.
            self._counts.error("release", len(failed))
            said = {"failed": len(failed), "codes": _codes(failed)}
            if not self.retired("sesd.sqs.release_partly_failed", **said):
                self._log.warning(
                    "sesd.sqs.release_partly_failed",
                    **said,
                    hint="they become visible again after their visibility timeout",
                )
        if len(entries) > len(failed):
            self._log.info("sesd.sqs.released", count=len(entries) - len(failed), **self.place())
        if ended is not None:
            if released is not None:
                released.answered = True
            raise ended

    async def _batch(
        self, operation: str, call: Any, entries: list[dict[str, Any]], kept: Kept
    ) -> Any:
        """One batch call on the queue; its failure and the SDK's retries of it counted
        (a throttle the SDK's retry got past shows nowhere else). An error without an
        answer (a connection cut, a read timeout) does not say them: they are the
        requests the call sent (``kept.tries``), one fewer."""
        try:
            answer = await call(QueueUrl=self._queue.url, Entries=entries)
        except SQS_ERRORS as exc:
            if not sesds_own(exc):  # a bug of sesd's is no failed call (sdk_blame)
                self._counts.retried(operation, max(retries(exc), kept.tries - 1))
                self._counts.error(operation)
            raise
        except RecursionError as exc:
            failure = answer_too_deep(exc)
            if failure is None:  # sesd's own: a fault, its supervisor's (sdk_blame)
                raise
            self._counts.error(operation)  # raised before the SDK's retries
            raise failure from exc
        self._counts.retried(operation, retries(answer))
        return answer
