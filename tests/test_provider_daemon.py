"""A daemon whose resolver never answers ingests as fast as ever: DNS is never on the
event path."""

from __future__ import annotations

from typing import Any

import anyio

from sesd.config import parse_config
from sesd.core.events import EVENT_TYPE_INDEX
from tests import factory as f
from tests.conftest import make_queue, running, send_bodies
from tests.dns_server import Zone, dns_server

DELIVERY = EVENT_TYPE_INDEX["delivery"]


async def test_a_daemon_whose_dns_never_answers_ingests_all_the_same(
    local_sqs: Any, sqs: Any
) -> None:
    """Every lookup hangs (the server never answers): the daemon still processes every
    message at once, counting the new domains as unknown, consumer domains by name."""
    url, _ = await make_queue(sqs)
    bodies = [f.raw(f.delivery([f"u@d{i}.example", "v@gmail.com"])) for i in range(60)]
    await send_bodies(sqs, url, bodies)
    zone = Zone(silent={f"d{i}.example" for i in range(60)})
    with dns_server(zone) as address:
        config = parse_config(
            f'[aws]\nendpoint_url = "{local_sqs.url}"\n'
            f'[[queues]]\nurl = "{url}"\nname = "q"\nwait_time_seconds = 1\n'
            f'[providers]\nnameservers = ["{address}"]\ntimeout = "20s"\n'
        )
        async with running(config) as daemon:
            with anyio.fail_after(20):
                await daemon.changes.wait_for(
                    lambda: daemon.ledger.tallies.messages.get(("q", "processed"), 0) >= 60
                )
            assert daemon.ledger.by_provider is not None
            counts = daemon.ledger.by_provider.recipients
            assert counts["unknown"][DELIVERY] == 60
            assert counts["google"][DELIVERY] == 60
            assert daemon.ledger.providers is not None
            assert daemon.ledger.providers.outcomes["resolved"] == 0
            assert zone.queries  # lookups were sent, and are still waiting
