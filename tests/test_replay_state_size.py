"""``sesd replay`` reads the daemon's state file for its cached providers: within the
same bound as ``sesd run``, which refuses a file larger than the largest state the
config saves."""

from __future__ import annotations

import json
import tracemalloc
from pathlib import Path

import pytest

from sesd.commands.main import main
from sesd.config import core_settings, load_config
from sesd.core.pipeline import Pipeline
from sesd.runtime.state_size import state_limit

FIXTURE = Path(__file__).parent / "fixtures" / "replay.jsonl"
RULE = '[[alerts.rules]]\nname = "delays"\nmetric = "delay_ratio"\nwindow = "15m"\nabove = 0.5\n'


def test_a_state_file_past_the_limit_is_not_read_and_the_replay_says_so(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    """The config's ``[state] path`` names a file one byte past what this config could
    save (sparse: a damaged file, a disk image named by mistake). The replay reads
    none of it (nothing near its size is allocated), says on stderr that it was not
    read, with its size and the limit, and replays as without a state file."""
    state = tmp_path / "state.bin"
    config = tmp_path / "sesd.toml"
    config.write_text(f'[state]\npath = "{state}"\n{RULE}')
    loaded = load_config(str(config))
    sinks = loaded.alerts.named_sinks()
    limit = state_limit(Pipeline(core_settings(loaded)).ledger, loaded.alerts.rules, sinks)
    with state.open("wb") as handle:
        handle.truncate(limit + 1)
    # Only that rule: the bound is still the whole config's, whose file it is.
    argv = ["replay", "--config", str(config), "--json", "--rule", "delays", str(FIXTURE)]
    tracemalloc.start()
    try:
        code = main(argv)
        peak = tracemalloc.get_traced_memory()[1]
    finally:
        tracemalloc.stop()
    out, err = capsys.readouterr()
    assert code == 0
    assert peak < 32 << 20
    assert json.loads(out)["messages"]["processed"] == 10
    assert f"{state} is {limit + 1:,} bytes, more than the {limit:,}" in err
    assert "providers come from consumer names" in err
