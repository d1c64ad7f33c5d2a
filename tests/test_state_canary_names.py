"""The names a state file keeps of this sesd's canaries under former host names
(``canary_names``), when the value does not read: a text, a number, a list holding
something other than a name. Like the other entries beside the alert states, it is
skipped alone and counted: the rest of the file restores. A text was read as its
characters (one-letter host names taken for this sesd's own); a number made the
restore raise, the whole file set aside (the windows lost, every firing alert
paged again)."""

from __future__ import annotations

from typing import Any

import msgspec
import pytest

from sesd.alerting.evaluator import Evaluator
from sesd.config import core_settings
from sesd.core.pipeline import Pipeline
from sesd.runtime.state import restore
from tests import factory as f
from tests.test_state_forward import OWED, _document, _restarted


@pytest.mark.parametrize(
    ("names", "kept", "skipped"),
    [
        ("abc", (), 1),
        (7, (), 1),
        ({"a": 1}, (), 1),
        (["pod-1", 7, "", "pod-2"], ("pod-1", "pod-2"), 2),
        (["pod-1"], ("pod-1",), 0),
    ],
)
def test_canary_names_that_do_not_read_are_skipped_alone(
    names: Any, kept: tuple[str, ...], skipped: int
) -> None:
    config, data = _document()
    data["canary_names"] = names
    restored, sent = _restarted(config, data)
    assert sent == OWED
    assert restored["entries_skipped"] == ({"canary_names": skipped} if skipped else {})
    ledger = Pipeline(core_settings(config)).ledger
    restore(msgspec.msgpack.encode(data), ledger, Evaluator(config.alerts, ["5m"]), f.T0 + 2)
    assert ledger.canary.former == kept


def test_a_file_without_canary_names_restores_with_none() -> None:
    """A file from a build that kept no names: none, and nothing skipped."""
    config, data = _document()
    del data["canary_names"]
    restored, _ = _restarted(config, data)
    assert restored["entries_skipped"] == {}
