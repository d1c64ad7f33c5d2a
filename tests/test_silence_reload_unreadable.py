"""A reload whose ``silences_path`` names a file that is not a silences file (a typo
naming a log file, a file cut short by a full disk): the daemon reads it ahead of the
change, off the event loop, and the change takes what that read found. The reload
takes all the same (its rules in force), and the file is said unreadable once, as at a
start: not again at each evaluation while it stays as it is."""

from __future__ import annotations

from pathlib import Path

from structlog.testing import capture_logs

from sesd.config import parse_config
from tests.test_routing import RULE, T, _silenceable
from tests.test_silence_hung import _reloaded
from tests.test_silence_reload import BOUNCES, _text, _watching


async def test_a_reload_to_a_file_that_is_not_a_silences_file_takes_and_says_it_once(
    tmp_path: Path,
) -> None:
    alerting, _, now, silences = await _silenceable(tmp_path, ("ops",), "0s")
    _watching(silences, rule="delays", domain="a.example")
    await alerting.evaluate_in_slices()
    assert [s.id for s in alerting.silences.silences.items] == ["s1"]
    typo = tmp_path / "sesd.log"
    typo.write_text("garbage\n")
    config = parse_config(_text(typo, RULE + 'sinks = ["ops"]\n' + BOUNCES))
    now[0] = T + 10
    with capture_logs() as logs:
        await _reloaded(alerting, config)
        now[0] = T + 20
        await alerting.evaluate_in_slices()
    assert [rule.name for rule in alerting.evaluator.rules] == ["delays", "bounces"]
    unreadable = [line for line in logs if line["event"] == "sesd.silences.unreadable"]
    assert [line["error"] for line in unreadable] == [
        f"{typo} is not a silences file (JSON is malformed: invalid character (byte 0))"
    ]
    assert alerting.silences.silences.items == []
