"""A reload that failed shows as failed on the status page, its API and `sesd status`,
with where to read why. Metrics and the status model."""

from __future__ import annotations

from sesd.alerting.evaluator import Evaluator
from sesd.commands.status_table import table
from sesd.config import Config, core_settings, parse_config
from sesd.core.pipeline import Pipeline
from sesd.metrics.registry import Metrics
from sesd.runtime.health import Health
from sesd.status.model import _daemon, build_status, read_counters
from sesd.status.page import _header
from sesd.status.sources import Sources


def sources(config: Config) -> Sources:
    """What the status of a daemon running ``config`` reads: its config loaded at
    1.8e9, read a minute after."""
    pipeline = Pipeline(core_settings(config))
    evaluator = Evaluator(config.alerts, [s.name for s in pipeline.ledger.specs])
    metrics = Metrics(pipeline.ledger, ["q"], lambda: 1.8e9, evaluator=evaluator)
    metrics.reloaded(True, 1.8e9)
    return Sources(
        pipeline.ledger,
        evaluator,
        metrics,
        Health(["q"]),
        lambda: 1.8e9 + 61,
        lambda: 0.0,
        1.8e9,
        "test",
    )


def test_a_failed_reload_is_shown_failed() -> None:
    source = sources(parse_config(""))
    source.metrics.reloaded(False, 1.8e9 + 60)  # the SIGHUP found an invalid file
    view = _daemon(source, 1.8e9 + 61)
    assert view.reload.ok is False
    # The status holds when the reload failed, not why: the log line does, and the
    # page and `sesd status` say which one, for an on-call who sees only them.
    why = "its log line sesd.config.reload_failed says why"
    assert f"last reload FAILED ({why})" in _header(view, 1.8e9 + 61)
    doc = build_status(source, 1.8e9 + 61, read_counters(source), (1.8e9, {}))
    assert f"LAST RELOAD FAILED ({why})" in table(doc).splitlines()[0]
