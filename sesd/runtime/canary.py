"""The canary's life in the daemon: started with it, restarted when a reload changes
``[canary]``, stopped with it. Its SES client comes from the one client factory, so
it sends as ``[canary] account`` (an ``[[accounts]]`` role) in its region, by default
its queue's."""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from functools import partial

import anyio
import anyio.abc
from aiobotocore.config import AioConfig

from sesd.canary.sender import CanarySender
from sesd.config import CanaryConfig, Config
from sesd.core.canary import CanaryTracker
from sesd.runtime.aws import AwsClients

__all__ = ["CanaryRunner"]


class CanaryRunner:
    """Runs :class:`CanarySender` while ``[canary]`` is set."""

    def __init__(
        self,
        tracker: CanaryTracker,
        clock: Callable[[], float],
        on_change: Callable[[], None],
        stopping: anyio.Event,
    ) -> None:
        self._tracker = tracker
        self._clock = clock
        self._on_change = on_change
        self._stopping = stopping
        self._stop = anyio.Event()
        #: What the running sender sends, and as whom (:func:`_sends`).
        self._sends: tuple[object, ...] | None = None
        #: The sender while one runs.
        self.sender: CanarySender | None = None

    def start(
        self,
        config: Config,
        clients: AwsClients,
        keep: Callable[[str, Callable[[], Awaitable[None]]], None],
    ) -> None:
        """Start sending, if ``[canary]`` is set and sesd is not stopping (after stopping
        what ran before), as a task ``keep`` runs (sesd.runtime.supervise: a fault in it
        must not end sesd). A reload that changes only what the tracker reads
        (``deadline``, a ``queue`` that sends as before) leaves the sender be; one that
        changes what is sent starts a new sender on the old one's schedule
        (:meth:`CanarySender.run`)."""
        sends = _sends(config)
        if sends is not None and sends == self._sends and not self._stop.is_set():
            return
        self._stop.set()
        self._stop = anyio.Event()
        self._sends = None
        if config.canary is not None and not self._stopping.is_set():
            self._sends = sends
            keep("canary", partial(self._run, config, config.canary, clients, self._stop))

    async def _run(
        self, config: Config, canary: CanaryConfig, clients: AwsClients, stop: anyio.Event
    ) -> None:
        # Each start of the task checks: one begun (or begun again after a fault) once
        # sesd is stopping or a reload has replaced it would send once, an email too many.
        if self._stopped(stop):
            return
        timeout = canary.call_timeout
        account, region = config.canary_sender()
        ses = await clients.client(
            "sesv2",
            account,
            region,
            # One attempt per call: each failure is a finding, not something to hide.
            AioConfig(
                connect_timeout=min(5.0, timeout),
                read_timeout=timeout,
                retries={"mode": "standard", "total_max_attempts": 1},
            ),
            canary.endpoint_url,
            use=f"canary:{timeout}",
            # Closed after a reload that gives the canary another client, once this
            # sender (which holds it) has ended.
            needed=partial(_same_client, (account, region, timeout, canary.endpoint_url)),
        )
        if self._stopped(stop):  # while the client was made
            return
        # The schedule goes on from the last call of the sender this one replaces.
        due = self.sender.due if self.sender is not None else None
        self.sender = CanarySender(
            canary, ses, self._tracker, clock=self._clock, on_change=self._on_change, due=due,
            in_force=lambda: not stop.is_set(),  # (set once a reload replaced or removed it)
        )  # fmt: skip
        stopped = anyio.Event()
        async with clients.holding(ses), anyio.create_task_group() as tg:
            tg.start_soon(_first_of, stopped, self._stopping, stop)
            await self.sender.run(stopped)
            tg.cancel_scope.cancel()

    def _stopped(self, stop: anyio.Event) -> bool:
        return stop.is_set() or self._stopping.is_set()


def _sends(config: Config) -> tuple[object, ...] | None:
    """What a sender of ``config`` sends, and as whom: every ``[canary]`` key but those
    only the tracker reads, and the account and region it sends as."""
    canary = config.canary
    if canary is None:
        return None
    keys = (k for k in canary.__struct_fields__ if k not in ("deadline", "queue"))
    return (*(getattr(canary, k) for k in keys), config.canary_sender())


def _same_client(client: tuple[object, ...], config: Config) -> bool:
    """Whether ``config``'s canary sends through ``client`` (account, region, call
    timeout, endpoint: what its client is made with)."""
    canary = config.canary
    if canary is None:
        return False
    return client == (*config.canary_sender(), canary.call_timeout, canary.endpoint_url)


async def _first_of(out: anyio.Event, *events: anyio.Event) -> None:
    """Set ``out`` as soon as any of ``events`` is set."""
    async with anyio.create_task_group() as tg:

        async def wait(event: anyio.Event) -> None:
            await event.wait()
            out.set()
            tg.cancel_scope.cancel()

        for event in events:
            tg.start_soon(wait, event)
