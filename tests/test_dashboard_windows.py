"""A dashboard panel's quantiles over a window that holds what they are quantiles of,
as promtool reads the panel's query at the scrape interval the shipped configs use."""

from __future__ import annotations

import json
from pathlib import Path

from tests.test_artifacts import DASHBOARD, filled, promtool_passes

#: The canary's stages and the histogram each panel query reads.
STAGES = ("send", "ses_processing", "event_pipeline", "end_to_end")


def test_the_canary_panel_draws_a_p95_of_canaries_not_gaps(tmp_path: Path) -> None:
    """A canary a minute (the default `interval`), each stage 0.5 to 1 s, Prometheus
    scraping every 15 s: a quantile over Grafana's rate interval (a minute here) reads a
    window with one canary, or none, and draws a gap, one canary's bucket in the next
    minute, each called a p95. Over 15 minutes, fifteen canaries, the panel draws their
    p95 at any moment: here 50 s after the last canary came back, where a minute's
    window holds none. promtool evaluates each stage's query of "Canary time per
    stage"."""
    panels = json.loads(DASHBOARD.read_text())["panels"]
    (panel,) = [p for p in panels if p["title"].startswith("Canary time per stage")]
    exprs = {t["refId"]: filled(t["expr"]) for t in panel["targets"]}
    assert len(exprs) == len(STAGES)
    counts = " ".join(f"{n}x3" for n in range(20))  # one more a minute, 4 scrapes each
    series = []
    for stage in STAGES:
        name = f"sesd_canary_{stage}_seconds_bucket"
        for le, values in (("0.5", "0x79"), ("1.0", counts), ("+Inf", counts)):
            series.append({"series": f'{name}{{job="sesd",instance="a",le="{le}"}}',
                           "values": values})  # fmt: skip
    checks = [
        {"expr": expr, "eval_time": "16m50s", "exp_samples": [{"labels": "{}", "value": 0.975}]}
        for expr in exprs.values()
    ]
    test = {"tests": [{"interval": "15s", "input_series": series, "promql_expr_test": checks}]}
    promtool_passes(tmp_path, test)
