"""The daemon keeps what the config's checks said of each silence's matchers, so a
change of the silences file (each ``sesd silence add``) checks only the new ones. It
keeps it for the silences the file holds, no longer: a silence leaves the file a
week after it ended, and a daemon that runs for months without a reload, silences
added day after day (by a script, say, one a domain), would otherwise keep a check
for every silence it ever read."""

from __future__ import annotations

from pathlib import Path

from sesd.alerting.silence_checks import silence_check
from sesd.alerting.silence_file import SilenceFile
from sesd.alerting.silence_watcher import SilenceWatcher
from sesd.alerting.silences import Silence
from sesd.config import parse_config
from tests import factory as f

DAY = 86400.0
RULES = (
    '[[alerts.rules]]\nname = "delay-high"\nmetric = "delay_ratio"\nwindow = "5m"\nabove = 0.1\n'
)


def test_the_checks_kept_are_those_of_the_silences_in_the_file(tmp_path: Path) -> None:
    path = tmp_path / "s.json"
    config = parse_config(f'{RULES}[alerts]\nsilences_path = "{path}"\n')
    checked: list[str | None] = []
    check = silence_check(config)

    def counted(silence: Silence) -> str:
        checked.append(silence.domain)
        return check(silence)

    watcher = SilenceWatcher(str(path), counted)
    silences = SilenceFile(str(path))
    for day in range(60):  # a silence a day, for a day, each on a domain of its own
        now = f.T0 + day * DAY
        domain = f"d{day}.example"
        silences.add(Silence(id=f"s{day}", comment="", starts_at=now, ends_at=now + DAY,
                             domain=domain), now)  # fmt: skip
        assert watcher.refresh(now)
        assert [s.domain for s in watcher.silences.items][-1] == domain
    held = {s.domain for s in silences.read()}
    assert len(held) == 8  # this one, and those that ended within the week
    assert len(checked) == 60  # each checked once, when it came
    assert {key[1] for key in watcher._kept._said} == held
