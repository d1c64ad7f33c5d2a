"""What a save keeps of the webhook notifications a stop left part-sent, without a
receiver: to their bounds (per sink, and in bytes, entry after entry), each refusal's
text and hint, and only those begun whose sink holds where they stand."""

from __future__ import annotations

import hashlib
from dataclasses import replace
from typing import Any

import aiohttp
import msgspec
from prometheus_client import CollectorRegistry, Counter

from sesd.alerting.outbox import Outbox
from sesd.alerting.part_saved import MOST_SAVED, MOST_SAVED_BYTES, saved_parts, url_digest
from sesd.alerting.sinks import Permanent
from sesd.alerting.webhook import WebhookSink
from tests.test_state_parts import CONFIG, URL, _entry, _read


def _resumed(**changed: Any) -> Any:
    """One part-sent notification as a restart read it (sesd.runtime.state_parts)."""
    (each,), _ = _read(_entry(**changed))
    return each


def test_the_url_is_kept_as_earlier_builds_wrote_it() -> None:
    """A file's digest of the URL is compared as written: the first 32 hex characters
    of its SHA-256. Another length would send every saved notification whole."""
    assert url_digest(URL) == hashlib.sha256(URL.encode()).hexdigest()[:32]


def test_a_sink_at_its_bound_leaves_the_other_sinks_kept() -> None:
    """Nine of the hook, then one of another webhook: eight of the hook are kept, and
    the other's too."""
    hook = _resumed()
    other = hook._replace(sink="other")
    saved = saved_parts([], [hook] * (MOST_SAVED + 1) + [other])
    assert [s.sink for s in saved] == ["hook"] * MOST_SAVED + ["other"]


def test_a_refusal_is_kept_with_its_text_and_hint() -> None:
    """A part the receiver refused for good is kept as its text and its hint."""
    each = _resumed()._replace(refused=[Permanent("HTTP 413: too large", "send less")])
    (saved,) = saved_parts([], [each])
    assert saved.refused == (("HTTP 413: too large", "send less"),)


def test_the_bytes_kept_are_counted_entry_after_entry() -> None:
    """Entries of 5 MiB and then 4: the second is past the 8 MiB kept of them all, and
    goes whole; one of exactly 8 MiB is kept."""

    def sized(size: int) -> Any:
        each = _resumed()
        note = size - len(msgspec.msgpack.encode(saved_parts([], [each])[0])) - 4  # str 32
        each = each._replace(notification=replace(each.notification, silence="x" * note))
        assert len(msgspec.msgpack.encode(saved_parts([], [each])[0])) == size
        return each

    assert len(saved_parts([], [sized(5 << 20), sized(4 << 20)])) == 1
    assert len(saved_parts([], [sized(MOST_SAVED_BYTES)])) == 1


async def test_a_notification_begun_whose_sink_holds_no_progress_is_not_kept() -> None:
    """A notification begun in the webhook's outbox (stepped aside) of which its sink
    holds no part sent is not kept as part-sent: its alerts go whole, as unsent."""
    each = _resumed()
    async with aiohttp.ClientSession() as session:
        sink = WebhookSink(CONFIG.named_sinks()["hook"], session, "hook")  # type: ignore[arg-type]
        outbox = Outbox(sink, size=10, counter=Counter("n", "n", ["sink", "outcome"],
                                                        registry=CollectorRegistry()))  # fmt: skip
        outbox.resume(each.notification, each.age)
        assert outbox.age(each.notification) is not None
        assert saved_parts([outbox]) == []
