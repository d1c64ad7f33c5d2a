"""The mute line every page ends with runs as pasted on the daemon's host: it names
``sesd`` only where that name on the daemon's PATH is the sesd that sent it, and
otherwise the program itself (a unit's ``/opt/sesd/bin/sesd``, which no login shell
or sudo finds by name)."""

from __future__ import annotations

import os
import shlex
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

import anyio
import pytest

from sesd.commands.demo.localsqs import LocalSqs
from sesd.io.replica import own_command
from tests import factory as f
from tests.conftest import make_queue, send_bodies
from tests.receivers import Receiver
from tests.sesd_process import sesd_process
from tests.test_silences_e2e import silences_config


def _script(path: Path) -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text("#!/bin/sh\n")
    path.chmod(0o755)
    return path


def test_a_unit_s_sesd_off_the_path_is_named_by_its_path(tmp_path: Path) -> None:
    """systemd runs /opt/sesd/bin/sesd, on no PATH: the line names that path, quoted
    for a shell where it holds a space."""
    script = _script(tmp_path / "opt dir" / "bin" / "sesd")
    assert own_command(str(script), which=lambda name: None) == shlex.quote(str(script))
    assert own_command(str(script), which=lambda name: None).startswith("'")


def test_sesd_on_the_path_is_named_sesd_when_it_is_this_program(tmp_path: Path) -> None:
    """A container's PATH (or a link in /usr/local/bin) finds this same program: the
    short name is paste-ready there."""
    script = _script(tmp_path / "opt" / "bin" / "sesd")
    link = tmp_path / "usr" / "local" / "bin" / "sesd"
    link.parent.mkdir(parents=True)
    link.symlink_to(script)
    assert own_command(str(script), which=lambda name: str(script)) == "sesd"
    assert own_command(str(script), which=lambda name: str(link)) == "sesd"


def test_another_sesd_on_the_path_is_not_the_one_named(tmp_path: Path) -> None:
    """Another install's ``sesd`` first on PATH (another version, another config's
    silences in mind): the line names this program's path, not that one."""
    script = _script(tmp_path / "opt" / "bin" / "sesd")
    other = _script(tmp_path / "usr" / "bin" / "sesd")
    assert own_command(str(script), which=lambda name: str(other)) == str(script)


def test_python_m_sesd_is_named_by_the_script_of_its_install(tmp_path: Path) -> None:
    """``python -m sesd run``: the console script beside that Python is the same
    install; without one, the Python itself with ``-m sesd``."""
    python = tmp_path / "venv" / "bin" / "python"
    main = "/src/sesd/__main__.py"
    assert own_command(main, which=lambda name: None, executable=str(python)) == (
        f"{python} -m sesd"
    )
    script = _script(python.with_name("sesd"))
    assert own_command(main, which=lambda name: None, executable=str(python)) == str(script)
    assert own_command(main, which=lambda name: str(script), executable=str(python)) == "sesd"


@pytest.mark.timeout(120)
async def test_the_mute_line_of_a_sesd_off_the_path_runs_as_pasted(
    local_sqs: LocalSqs, sqs: Any, tmp_path: Path
) -> None:
    """sesd runs with a PATH that has no ``sesd`` on it (as under its systemd unit):
    the Slack message's mute line names the program by its path, and pasted into a
    shell with that PATH it adds the silence the daemon then reads."""
    url, _ = await make_queue(sqs)
    bare = "/usr/bin:/bin"
    async with Receiver("slack") as slack:
        config = silences_config(tmp_path, local_sqs.url, url)
        env = {"SESD_TEST_SLACK_URL": slack.url, "PATH": bare}
        async with sesd_process(config, env=env) as sesd:
            body = f.raw(f.delay(["d@a.example"], at=time.time()))
            await send_bodies(sqs, url, [body])
            with anyio.fail_after(30):
                await slack.wait_for(1)
            mute = slack.accepted[0]["blocks"][-1]["elements"][-1]["text"]
            program = Path(sys.executable).with_name("sesd")
            assert mute == (
                f"mute: {shlex.quote(str(program))} silence add --config {config} "
                "--rule delays --domain a.example --for 4h --comment REASON"
            )
            pasted = await anyio.run_process(
                ["/bin/sh", "-c", mute.removeprefix("mute: ")],
                env={**os.environ, "PATH": bare},
                stderr=subprocess.PIPE,
                check=False,
            )
            assert pasted.returncode == 0, pasted.stderr.decode()
            with anyio.fail_after(30):
                await sesd.wait_for(
                    lambda r: r.get("event") == "sesd.silences.loaded" and r.get("silences") == 1
                )
