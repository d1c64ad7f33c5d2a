"""What the lines of a moved queue's old place say (sesd.runtime.sqs_deletes): at info,
``retired``, without the hint meant for the queue in force, but with all else an
on-call engineer reads of a delete there: the error, how many, the codes."""

from __future__ import annotations

from pathlib import Path

import pytest

from tests.test_reload_calls_in_flight import _logged, _moved
from tests.test_reload_calls_in_flight import reloaded_mid_receive as reloaded


async def test_a_delete_refused_at_the_old_place_says_the_error_and_how_many(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The old place's message: its delete fails for the message, then is refused. The
    partial failure's line says one failed, with its code; the refusal's, its error
    and the one message."""
    sqs, logs, _ = await reloaded(tmp_path, monkeypatch, _moved, (), grace="30s", message=True)
    assert sqs.deletes == [500, 200, 400]
    (partly,) = _logged(logs, "sesd.sqs.delete_partly_failed")
    said = {"level": "info", "retired": True, "failed": 1, "retrying": 1}
    said |= {"codes": ["InternalError"]}
    assert {k: partly[k] for k in said} == said
    (refused,) = _logged(logs, "sesd.sqs.delete_refused")
    said = {"level": "info", "retired": True, "error": "ClientError: AccessDenied", "count": 1}
    assert {k: refused[k] for k in said} == said
