"""One evaluation reads each (label, window) once, and what it reads is what the window
says at that moment."""

from __future__ import annotations

from sesd.alerting.reads import Reads
from sesd.config import core_settings, parse_config
from sesd.core.pipeline import Pipeline
from sesd.core.windows import Figures
from tests import factory as f

NOW = f.T0 + 10
RULE = '[[alerts.rules]]\nname = "r"\nmetric = "delay_ratio"\nwindow = "5m"\nabove = 0.1\n'


def _pipeline() -> Pipeline:
    pipeline = Pipeline(core_settings(parse_config(RULE)))
    for i in range(3):
        pipeline.feed(f.raw(f.delivery([f"d{i}@a.example"], at=NOW)), "q", NOW)
    throttled = "421 4.7.0 Too many connections, slow down"
    pipeline.feed(f.raw(f.delay(["x@a.example"], at=NOW, diagnostic=throttled)), "q", NOW)
    suppressed = f.bounce(
        ["s@b.example"], at=NOW, kind="Permanent", subkind="OnAccountSuppressionList"
    )
    pipeline.feed(f.raw(suppressed), "q", NOW)
    pipeline.feed(f.raw(f.delivery(["o@b.example"], at=NOW)), "q", NOW)
    return pipeline


def test_each_read_is_the_windows_own_and_made_once_an_evaluation() -> None:
    """Counts alone, or with the quantiles when asked, and a window's causes: each as
    the window says, each the same object to the next rule that asks, and each
    window's own; a new evaluation reads again."""
    pipeline = _pipeline()
    a, b = (pipeline.ledger.windows[d] for d in ("a.example", "b.example"))
    reads = Reads()
    reads.start(NOW)
    plain = reads.figures(a, 0, False)
    assert plain == Figures(a.counts(0, NOW))
    assert reads.figures(a, 0, False) is plain
    full = reads.figures(a, 0, True)
    assert full == a.figures(0, NOW)
    assert full != plain  # the quantiles read only when asked
    assert reads.figures(a, 0, True) is full
    assert reads.figures(b, 0, False) == Figures(b.counts(0, NOW))
    causes = reads.causes(a, 0)
    assert causes == a.causes(0, NOW)
    assert causes
    assert reads.causes(a, 0) is causes
    assert reads.causes(b, 0) == b.causes(0, NOW)
    pipeline.feed(f.raw(f.delivery(["late@a.example"], at=NOW + 1)), "q", NOW + 1)
    reads.start(NOW + 1)
    assert reads.figures(a, 0, False) == Figures(a.counts(0, NOW + 1))
    assert reads.figures(a, 0, False) != plain
