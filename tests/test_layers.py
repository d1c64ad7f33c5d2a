"""The architecture holds: the core loads no I/O library, every metric family is
described by the collector that yields it (so a name used twice fails at start), and
no module of the package grows past its limit."""

from __future__ import annotations

import argparse
import json
import subprocess
import sys
from pathlib import Path

import pytest
from prometheus_client import CollectorRegistry
from prometheus_client.core import GaugeMetricFamily, Metric

from sesd.alerting.evaluator import Evaluator
from sesd.commands.main import COMMANDS, _parser
from sesd.config import core_settings, parse_config
from sesd.core.pipeline import Pipeline
from sesd.metrics.registry import Metrics
from tests import factory as f

IO_LIBRARIES = ("aiobotocore", "aiohttp", "anyio", "botocore", "dns", "prometheus_client",
                "structlog")  # fmt: skip


def test_the_core_loads_no_io_library() -> None:
    """A fresh interpreter that imports the pipeline (and feeds it an event) has loaded
    none of the libraries of the I/O edges."""
    code = (
        "import sys, json\n"
        "import sesd.core.pipeline\n"
        f"libraries = {IO_LIBRARIES!r}\n"
        "print(json.dumps(sorted({m.split('.')[0] for m in sys.modules} & set(libraries))))\n"
    )
    done = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, check=True, timeout=60
    )
    assert json.loads(done.stdout) == []


CONFIG = (
    '[dimensions]\ntags = ["campaign"]\n'
    '[[queues]]\nurl = "https://sqs.eu-west-1.amazonaws.com/123456789012/q"\nname = "q"\n'
    '[canary]\nfrom = "c@example.com"\nconfiguration_set = "s"\n'
    '[[alerts.rules]]\nname = "r"\nmetric = "delay_ratio"\nwindow = "5m"\nabove = 0.1\n'
)


def _metrics() -> Metrics:
    """A registry with every feature on: tags, providers, the canary, account polls,
    alerts, and one event of each kind counted."""
    config = parse_config(CONFIG)
    pipeline = Pipeline(core_settings(config))
    for event in (f.delivery(["a@gmail.com"]), f.delay(["b@x.example"]), f.bounce(["c@y.example"])):
        event["mail"]["tags"] = {"campaign": ["spring"]}
        pipeline.feed(f.raw(event), "q", f.T0)
    evaluator = Evaluator(config.alerts, [s.name for s in pipeline.ledger.specs])
    evaluator.evaluate(pipeline.ledger, f.T0)
    pipeline.ledger.accounts.record(("default", "eu-west-1")).sending_enabled = True
    metrics = Metrics(
        pipeline.ledger, ["q"], lambda: f.T0, evaluator=evaluator, accounts_polled=True
    )
    metrics.watch_canary()
    return metrics


def test_each_collector_describes_what_it_collects() -> None:
    """With every feature on, each family a collector yields is one it describes: the
    registry's check of names at registration sees them all."""
    registry = _metrics().registry
    for collector in registry._collector_to_names:
        describe = getattr(collector, "describe", None)
        if describe is None:
            continue
        described = {(m.name, m.type) for m in describe()}
        collected = {(m.name, m.type) for m in collector.collect()}
        assert collected <= described, collected - described


def test_a_family_name_used_twice_fails_when_registered() -> None:
    """A second collector that yields a family of the same name is refused at start."""

    class Twin:
        def describe(self) -> list[Metric]:
            return [GaugeMetricFamily("sesd_tracked_domains", "a twin", value=0)]

        def collect(self) -> list[Metric]:
            return self.describe()

    registry: CollectorRegistry = _metrics().registry
    with pytest.raises(ValueError, match="Duplicated timeseries"):
        registry.register(Twin())


def test_a_module_over_the_limit_is_named(tmp_path: Path) -> None:
    """``make lint``'s size check names a module at the limit, and fails; one line
    under it passes."""
    script = Path(__file__).parent.parent / "scripts" / "check_sizes.py"
    package = tmp_path / "pkg"
    package.mkdir()
    (package / "small.py").write_text("x = 1\n" * 399)
    passed = subprocess.run([sys.executable, str(script), str(package)], check=False)
    assert passed.returncode == 0
    (package / "large.py").write_text("x = 1\n" * 400)
    failed = subprocess.run(
        [sys.executable, str(script), str(package)], capture_output=True, text=True, check=False
    )
    assert failed.returncode == 1
    assert failed.stdout == "pkg/large.py: 400 lines (limit 399): split it by what its parts do\n"


def test_a_command_loads_only_what_it_uses() -> None:
    """``sesd cause`` in a fresh interpreter answers without loading the daemon's
    libraries or any other command: a start of it costs what it uses."""
    code = (
        "import sys, json\n"
        "from sesd.commands.main import main\n"
        "code = main(['cause', '452 4.2.2 Mailbox full'])\n"
        f"libraries = {(*IO_LIBRARIES, 'tqdm')!r}\n"
        "loaded = {m.split('.')[0] for m in sys.modules} & set(libraries)\n"
        "commands = [m for m in sys.modules if m.startswith('sesd.commands.')]\n"
        "print(json.dumps([code, sorted(loaded), sorted(commands)]), file=sys.stderr)\n"
    )
    done = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, check=True, timeout=60
    )
    assert done.stdout.startswith("mailbox_full (4.2.2): ")
    code, loaded, commands = json.loads(done.stderr)
    assert (code, loaded) == (0, [])
    # What every command shares (its parsers, its output), and no other command.
    assert commands == [
        "sesd.commands.cause",
        "sesd.commands.common",
        "sesd.commands.main",
        "sesd.commands.output",
    ]


#: What a daemon's start needs and a quick command does not: the AWS SDK, the pipeline,
#: the metrics and logging libraries, the config's schema and checks, the status
#: model the daemon builds documents with.
_DAEMON_S = (*IO_LIBRARIES, "sesd.config", "sesd.core.pipeline", "sesd.core.ledger",
             "sesd.core.causes", "sesd.core.windows", "sesd.metrics", "sesd.status.model",
             "sesd.alerting.alert", "sesd.runtime.daemon", "yaml", "rich", "tqdm")  # fmt: skip
#: ``sesd status`` fetches over HTTP: aiohttp and anyio are its own.
_STATUS_S = ("aiohttp", "anyio")


def _without(modules: tuple[str, ...], *used: str) -> tuple[str, ...]:
    """``modules`` less those a command uses."""
    return tuple(m for m in modules if m not in used)


@pytest.mark.parametrize(
    ("argv", "status", "unused"),
    [
        (["cause", "452 4.2.2 Mailbox full"], 0, _without(_DAEMON_S, "sesd.core.causes")),
        (["--version"], 0, (*_DAEMON_S, "sesd.commands.status", "sesd.commands.run")),
        (["status", "--url", "http://127.0.0.1:1"], 1, _without(_DAEMON_S, *_STATUS_S)),
    ],
    ids=["cause", "version", "status"],
)
def test_a_quick_command_loads_none_of_the_daemon_s_modules(
    argv: list[str], status: int, unused: tuple[str, ...]
) -> None:
    """``sesd cause``, ``sesd --version`` and ``sesd status`` (an SRE's first look, at
    3 a.m.) answer in a fresh interpreter without loading the modules a daemon's start
    needs: they were most of each one's start."""
    code = (
        "import json, sys\n"
        "from sesd.commands.main import main\n"
        "try:\n"
        f"    code = main({argv!r})\n"
        "except SystemExit as exc:\n"
        "    code = exc.code\n"
        f"unused = {unused!r}\n"
        "loaded = sorted(m for m in sys.modules if m in unused or m.startswith(\n"
        "    tuple(u + '.' for u in unused)))\n"
        "print(json.dumps([code, loaded]), file=sys.stderr)\n"
    )
    done = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, check=True, timeout=60
    )
    assert json.loads(done.stderr.splitlines()[-1]) == [status, []]


def test_one_command_s_parser_reads_as_the_whole_one() -> None:
    """Each command's parser, built alone, has that command under its name, the same
    help and the same usage as in the parser of every command."""
    whole = _parser()
    (everything,) = [a for a in whole._actions if isinstance(a, argparse._SubParsersAction)]
    assert list(everything.choices) == list(COMMANDS)
    for name in COMMANDS:
        alone = _parser(name)
        (one,) = [a for a in alone._actions if isinstance(a, argparse._SubParsersAction)]
        assert list(one.choices) == [name]
        assert one.choices[name].format_help() == everything.choices[name].format_help()
        assert alone.format_usage() == whole.format_usage()


def test_checking_a_config_without_a_state_file_loads_neither_http_nor_the_state_start(
    tmp_path: Path,
) -> None:
    """``sesd check-config`` of a config with no ``[state]`` prints it without loading
    the daemon's HTTP stack or the state file's start (``sesd.runtime.state_start``),
    nor the path's check (``sesd.runtime.state_path``, for a ``[state] path``)."""
    path = tmp_path / "sesd.toml"
    path.write_text('[[queues]]\nurl = "https://sqs.eu-west-1.amazonaws.com/1/q"\nname = "q"\n')
    code = (
        "import sys, json\n"
        "from sesd.commands.main import main\n"
        f"code = main(['check-config', {str(path)!r}])\n"
        "loaded = sorted({m.split('.')[0] for m in sys.modules} & {'aiohttp', 'aiobotocore'})\n"
        "state = sorted(m for m in sys.modules if m.startswith('sesd.runtime.'))\n"
        "print(json.dumps([code, loaded, state]), file=sys.stderr)\n"
    )
    done = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, check=True, timeout=60
    )
    assert json.loads(done.stdout)["queues"][0]["name"] == "q"
    code, loaded, runtime = json.loads(done.stderr.splitlines()[-1])
    assert (code, loaded) == (0, [])
    # Neither the start (lock, restore) nor the saver: no [state] path, nothing to check.
    assert "sesd.runtime.state_start" not in runtime
    assert "sesd.runtime.saver" not in runtime
    assert "sesd.runtime.state_path" not in runtime


def test_checking_a_state_path_loads_only_the_path_check(tmp_path: Path) -> None:
    """``sesd check-config`` of a config with a ``[state] path`` whose directory is
    missing warns that ``sesd run`` would not start, having loaded neither the HTTP
    stack nor the evaluator nor the state file's restore: the path's check alone (a
    check run before each reload took three quarters of a second for them)."""
    path = tmp_path / "sesd.toml"
    path.write_text(
        '[[queues]]\nurl = "https://sqs.eu-west-1.amazonaws.com/1/q"\nname = "q"\n'
        f'[state]\npath = "{tmp_path}/missing/state.bin"\n'
    )
    code = (
        "import sys, json\n"
        "from sesd.commands.main import main\n"
        f"code = main(['check-config', '--quiet', {str(path)!r}])\n"
        "loaded = sorted({m.split('.')[0] for m in sys.modules} & {'aiohttp', 'aiobotocore'})\n"
        "heavy = sorted(m for m in sys.modules if m.startswith(('sesd.runtime.state', "
        "'sesd.alerting.')))\n"
        "print(json.dumps([code, loaded, heavy]), file=sys.stderr)\n"
    )
    done = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, check=True, timeout=60
    )
    warned, said = done.stderr.splitlines()[:-1], done.stderr.splitlines()[-1]
    assert any("missing does not exist (sesd run would not start" in w for w in warned)
    code, loaded, heavy = json.loads(said)
    assert (code, loaded) == (0, [])
    assert heavy == ["sesd.runtime.state_path"]
