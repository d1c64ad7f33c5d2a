"""AWS clients: one per (service, account, region), made on first use.

The default account uses the default credential chain (or ``[aws]`` keys). An
``[[accounts]]`` entry's clients sign with credentials from STS AssumeRole,
asked for with the default credentials at the first call and refreshed by the
SDK before they expire (from 15 minutes before expiry, at the latest 10
minutes before).
"""

from __future__ import annotations

from collections.abc import Callable, Iterable
from contextlib import AbstractAsyncContextManager, AsyncExitStack
from datetime import UTC, datetime
from functools import partial
from typing import Any

import anyio.to_thread
from aiobotocore.config import AioConfig
from aiobotocore.credentials import AioDeferredRefreshableCredentials
from aiobotocore.session import AioSession, get_session
from botocore.exceptions import ClientError
from botocore.parsers import ResponseParserError

from sesd.config import AccountConfig, Config, QueueConfig
from sesd.config.aws import endpoint_of_url
from sesd.core.accounts import DEFAULT_ACCOUNT
from sesd.io.aws_errors import asked_in, no_credentials, note_statuses
from sesd.io.sdk_blame import sesds_own, timestamp_unread
from sesd.runtime.aws_closing import Closing
from sesd.runtime.aws_making import OneEach
from sesd.runtime.aws_making import read_models as _read_models
from sesd.runtime.aws_settings import poll_config, sqs_config, tenant_config
from sesd.runtime.exit_room import ExitRoom

__all__ = [
    "DEFAULT_ACCOUNT",
    "AwsClients",
    "Made",
    "QueueClients",
    "poll_config",
    "sqs_config",
    "tenant_config",
]

_SESSION_NAME = "sesd"

#: Whose credentials sign: ``default`` (the default chain, or ``[aws]`` keys), or an
#: ``[[accounts]]`` entry (its role).
Who = str | AccountConfig
#: Queues' SQS clients, by queue label and use ("" or "receive").
QueueClients = dict[tuple[str, str], Any]
#: Which client: (service, account, region, use, endpoint).
_Key = tuple[str, str, str, str, str | None]
#: A client, whose credentials sign it, and what closes it.
_Entry = tuple[Any, Who, AsyncExitStack]
#: The clients a try made (a reload's, before it is in force), each with what its key
#: held before: :meth:`AwsClients.discard` closes them if the try fails.
Made = list[tuple[_Key, _Entry, _Entry | None]]
#: Whether a config (the one a reload put in force) still needs a client.
Needed = Callable[[Config], bool]


class AwsClients:
    """The clients of one daemon, closed when ``stack`` closes; those a reload in force
    no longer needs, once nothing holds them (:meth:`retire`), within what is left of
    the daemon's ``exit_room`` once its exit has begun."""

    def __init__(
        self, config: Config, stack: AsyncExitStack, exit_room: ExitRoom | None = None
    ) -> None:
        self._config = config
        # One callback for every client: one each, the stack grew with every client a
        # reload made, closed or not, for the life of the daemon.
        self._closing = Closing(exit_room)
        stack.push_async_callback(self._closing.aclose)
        self._sessions: dict[Who, AioSession] = {}
        #: The (signer, service) pairs whose SDK models are loaded (:func:`_read_models`).
        self._read: set[tuple[Who, str]] = set()
        #: Each client, whose credentials sign it (:meth:`_who`), and what closes it.
        self._clients: dict[_Key, _Entry] = {}
        #: Each queue's SQS clients (by label and use), as its last opening made them.
        self._queues: QueueClients = {}
        #: When a client is needed (:meth:`client`'s ``needed``), by key: else always.
        self._needed: dict[_Key, Needed] = {}
        #: One making at a time of each client: callers at once share it.
        self._making = OneEach()

    def reconfigure(self, config: Config) -> None:
        """A reload's config: accounts it adds are reached from now on (a changed
        role of an account already in use waits for a restart)."""
        self._config = config

    async def open_queue(self, queue: QueueConfig) -> None:
        """Make a queue's SQS clients (:meth:`queue_clients`) and put them in use."""
        self.keep(await self.queue_clients(queue, self._config))

    async def queue_clients(
        self, queue: QueueConfig, config: Config, made: Made | None = None
    ) -> QueueClients:
        """The SQS clients a queue's pollers use, as ``config`` would have them (a
        reload's, before it is in force: made first, since making them can fail), shared
        by the queues of an (account, region, endpoint): for receives (no SDK retries:
        :func:`sqs_config`), and for the rest. Their connection pool holds every poller's
        request: a reload that raises ``concurrency`` makes new clients for the queues
        it restarts. :meth:`keep` puts them in use; ``made`` is told of those made
        anew."""
        connections = sum(q.concurrency for q in config.queues) + 4
        region = config.region_of(queue)
        clients: QueueClients = {}
        for use in ("", "receive"):
            settings = sqs_config(connections, receive=use == "receive")
            clients[(queue.label, use)] = await self.client(
                "sqs", queue.account, region, settings, endpoint_of_url(queue.url),
                use=f"{use}:{connections}", accounts=config, made=made,
                needed=_by_queues,
            )  # fmt: skip
        return clients

    def keep(self, clients: QueueClients, config: Config | None = None) -> None:
        """Put queues' clients (:meth:`queue_clients`) in use; with ``config`` (a reload's,
        in force), forget those of the queues it no longer has."""
        if config is not None:
            labels = {q.label for q in config.queues}
            self._queues = {at: c for at, c in self._queues.items() if at[0] in labels}
        self._queues.update(clients)

    def sqs(self, queue: QueueConfig, use: str = "") -> Any:
        """A queue's SQS client (made by :meth:`open_queue`); ``use="receive"``: the one
        for ReceiveMessage."""
        return self._queues[(queue.label, use)]

    async def client(
        self,
        service: str,
        account: str,
        region: str,
        config: AioConfig,
        endpoint_url: str | None = None,
        *,
        use: str = "",
        accounts: Config | None = None,
        made: Made | None = None,
        needed: Needed | None = None,
    ) -> Any:
        """The client of ``service`` for ``account`` ("" or ``default``: the default
        credentials) in ``region`` at ``endpoint_url`` (else ``[aws] endpoint_url``,
        else the region's), made on first use with ``config``. ``use`` names what
        ``config`` holds (the canary's single attempts and timeout, the pollers'
        pool): two calls that differ in it, or in the endpoint, get two clients.
        ``accounts``: the config whose ``[[accounts]]`` entry ``account`` names (a
        reload's, not yet in force); else the one in force. ``made``: told of the client
        if it is made here (:meth:`discard`). ``needed``: whether a reload's config still
        needs the client (else :meth:`retire` closes it); without it, always."""
        endpoint = endpoint_url or self._config.aws.endpoint_url
        name = account or DEFAULT_ACCOUNT
        who = self._who(name, accounts or self._config)
        key = (service, name, region, use, endpoint)
        # Made once, though asked for at once (two accounts' refreshes, STS's client):
        # each made its own, and the one kept in place of the other was never closed.
        async with self._making.one(key):
            found = self._clients.get(key)
            if found is not None and found[1] == who:
                return found[0]
            session = self._session(who)
            if (who, service) not in self._read:
                # Left to its thread at a cancel (a stop while sesd starts): a disk that
                # hangs must not hold the stop; the client is not made then.
                await anyio.to_thread.run_sync(
                    _read_models, session, service, abandon_on_cancel=True
                )
                self._read.add((who, service))
            # Each client closes by itself (:meth:`discard`, :meth:`retire`), else at exit.
            closing = AsyncExitStack()
            client = await closing.enter_async_context(
                session.create_client(  # type: ignore[call-overload]
                    service,
                    region_name=region,
                    endpoint_url=endpoint,
                    config=config,
                    **self._static_keys(who),
                )
            )
            self._closing.opened(client, closing, f"aws_client {service} {name} {region}")
            if needed not in (None, _by_queues) and not needed(self._config):
                # What it is for was retired while it was made (its SDK files read in a
                # thread as a reload removed the region polled, or moved the canary): no
                # reload to come would retire it. Closed once nothing holds it (a round's
                # call on it ends first). A queue's is needed once kept: not known here.
                await self._closing.retire(client, use)
                return client
            self._clients[key] = entry = (client, who, closing)
            if needed is not None:
                self._needed[key] = needed
            if made is not None:
                made.append((key, entry, found))
            elif found is not None:
                # Another signer's, for the config in force: none of it needs that one.
                await self._closing.retire(found[0], use)
            return client

    def holding(self, *clients: Any) -> AbstractAsyncContextManager[None]:
        """Hold ``clients`` while the block runs (a queue's pollers, a canary): a client
        a reload retired meanwhile is closed as its last hold ends, not under a call in
        flight."""
        return self._closing.holding(*clients)

    def holding_all(self, use: str) -> AbstractAsyncContextManager[None]:
        """Hold every client of ``use`` while the block runs (a poll round, which asks
        for its clients as it goes)."""
        return self._closing.holding_all(use)

    async def retire(self, config: Config, made: Made) -> None:
        """After a reload (which made ``made``) is in force with ``config``: close the
        clients it no longer needs (a queue removed, or restarted with another pool; an
        account or region removed, and STS's client in a region no account assumes a role
        in any more; the canary's changed), each once nothing holds it, and the session of
        each role it no longer signs with.
        Kept, each stayed open until exit: reloads, repeated, grew the open clients
        (connection pools, sockets) without bound."""
        in_use = {id(client) for client in self._queues.values()}
        for key, _, before in made:
            if before is not None and id(before[0]) not in in_use:
                # Replaced by another signer's client it made.
                await self._closing.retire(before[0], key[3])
        made.clear()
        for key, entry in list(self._clients.items()):
            needed = self._needed.get(key)
            if id(entry[0]) in in_use or needed is None or needed(config):
                continue
            del self._clients[key]
            del self._needed[key]
            await self._closing.retire(entry[0], key[3])
        # A role the config no longer names loses its session with its clients (the
        # SDK's models they read): kept, each role a reload removed held them until exit.
        self._forget_signers(w for w in self._sessions if isinstance(w, AccountConfig))

    async def discard(self, made: Made) -> None:
        """Close the clients a try made (``made``: a reload that then failed) and give
        their keys back what they held: kept, each failed try left a client open until
        exit (one more for each role tried). Nothing it did not make is closed: a client
        of the config in force that it found was reused, not made. A signer no client
        is left to (a role only the try named) loses its session too: kept, it held the
        SDK's models its clients read (about 8 MB for SQS) until exit. Each closes in
        its turn, all within a close's room: one that hangs is cut off, not awaited;
        each key is given back first, so none is handed out as it closes."""
        for key, entry, before in reversed(made):
            if self._clients.get(key) is not entry:
                continue  # made again since (by a try that did not fail)
            if before is None:
                del self._clients[key]
                self._needed.pop(key, None)
            else:
                self._clients[key] = before
        await self._closing.close_in_turns([entry[0] for _, entry, _ in made])
        self._forget_signers(entry[1] for _, entry, _ in made)
        made.clear()

    def _forget_signers(self, signers: Iterable[Who]) -> None:
        """Drop the session of each of ``signers`` that no client is left to and the
        config in force does not name (a role only a failed try, or a removed account,
        did): its credentials, and the SDK's models its clients read (about 8 MB for
        SQS). A client it signs that is still held goes on with what it has."""
        signing = {entry[1] for entry in self._clients.values()}
        named = set(self._config.accounts)
        for who in set(signers) - signing - named:
            self._sessions.pop(who, None)
            self._read = {pair for pair in self._read if pair[0] != who}

    @staticmethod
    def _who(account: str, accounts: Config) -> Who:
        """Whose credentials sign: ``default``, or the ``[[accounts]]`` entry as
        ``accounts`` has it. An entry a reload removed and another added again with
        another role is another signer: its clients are made anew."""
        if account == DEFAULT_ACCOUNT:
            return DEFAULT_ACCOUNT
        entry = accounts.account(account)
        if entry is None:
            raise KeyError(f"no [[accounts]] entry named {account!r}")
        return entry

    def _static_keys(self, who: Who) -> dict[str, str | None]:
        """``[aws]`` keys for the default account, if given; nothing for a role."""
        aws = self._config.aws
        if who != DEFAULT_ACCOUNT or aws.access_key_id is None:
            return {}
        assert aws.secret_access_key is not None
        return {
            "aws_access_key_id": aws.access_key_id.get(),
            "aws_secret_access_key": aws.secret_access_key.get(),
        }

    def _session(self, who: Who) -> AioSession:
        """``who``'s session: the default chain's, or one that assumes the entry's role.
        (An account's name is taken for the entry in force, for tests.)"""
        if isinstance(who, str) and who != DEFAULT_ACCOUNT:
            who = self._who(who, self._config)
        found = self._sessions.get(who)
        if found is not None:
            return found
        session = get_session() if who == DEFAULT_ACCOUNT else AioSession()
        if isinstance(who, AccountConfig):
            entry = who
            # Asked for at the first call, and again before they expire: a role that
            # cannot be assumed fails that call (sesd.sqs.hint_for names the cause).
            session._credentials = AioDeferredRefreshableCredentials(  # type: ignore[attr-defined]
                refresh_using=lambda: self._assume(entry), method="sts-assume-role"
            )
        self._sessions[who] = session
        return session

    async def _assume(self, account: AccountConfig) -> dict[str, str]:
        """Fresh credentials for ``account``'s role, asked for with the default ones."""
        region = account.region or self._config.aws.region
        kwargs: dict[str, Any] = {"RoleArn": account.role_arn, "RoleSessionName": _SESSION_NAME}
        if account.external_id:
            kwargs["ExternalId"] = account.external_id
        # Held from before it is made (every client of STS's use, ""): one a reload
        # retires meanwhile, or did (a removed account's last refresh), closes after
        # this call, not under it.
        async with self.holding_all(""):
            sts = await self.client(
                "sts",
                DEFAULT_ACCOUNT,
                region,
                AioConfig(connect_timeout=5, read_timeout=10, retries={"mode": "standard"}),
                needed=partial(_assumes_in, region),
            )
            note_statuses(sts)  # what no_credentials reads of an answer no parser read
            try:  # The SDK's parser holds an answer to no member STS promises.
                credentials = (await sts.assume_role(**kwargs))["Credentials"]
                expires = credentials["Expiration"]
                if expires <= datetime.now(UTC):  # (the SDK raises RuntimeError at each call)
                    raise no_credentials()  # expired: a stand-in's, an old answer replayed
                return {
                    "access_key": credentials["AccessKeyId"],
                    "secret_key": credentials["SecretAccessKey"],
                    "token": credentials["SessionToken"],
                    "expiry_time": expires.isoformat(),
                }
            except (ResponseParserError, KeyError, TypeError, ValueError, AttributeError) as exc:
                # The SDK's on an answer of another shape, or the lines above on one it
                # passed: a role not assumed. One that passed sesd's own hooks under the
                # SDK (sesd.io.aws_errors) is a bug of sesd's: a fault, with its traceback.
                if sesds_own(exc):
                    raise
                raise no_credentials() from exc
            except RuntimeError as exc:
                # An expiry past any date, which botocore's timestamp parser gives up on:
                # a stand-in's answer, a role not assumed. Raised on, it was no error a
                # queue's poller takes for a failed call: its task failed and restarted.
                if not timestamp_unread(exc):
                    raise
                raise no_credentials() from exc
            except ClientError as exc:
                # Said with the region STS was asked in: STS not activated there is told
                # by that region, not by the failed call's (a queue's, a poll's).
                asked_in(exc, region)
                raise


def _assumes_in(region: str, config: Config) -> bool:
    """Whether an ``[[accounts]]`` entry of ``config`` assumes its role in ``region``
    (with STS's client there): else a reload retires that client."""
    return any((account.region or config.aws.region) == region for account in config.accounts)


def _by_queues(config: Config) -> bool:
    """A queue's SQS client is needed while a queue uses it (:meth:`AwsClients.keep`)."""
    return False
