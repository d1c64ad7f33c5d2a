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


#: The panels that count rare events (invalid messages, notifications, canary send
#: errors, failed polls), and the counter each of their lines reads.
COUNTS = {
    "Invalid messages by reason": ("sesd_invalid_messages_total",),
    "Notification outcomes": ("sesd_notifications_total",),
    "Canary missing and send errors": ("sesd_canary_send_errors_total",),
    "Account polls failing": ("sesd_ses_poll_errors_total", "sesd_ses_poll_failures_total"),
}


def test_a_count_panel_draws_a_count_a_minute_whatever_window_grafana_reads(
    tmp_path: Path,
) -> None:
    """Ten failures a minute, steady. Grafana's rate interval is a minute over the last
    hours, ten minutes over a week: a count over it (``increase()``) drew 10, then 100,
    for the same failures, and the legend named no window to tell which. Each line of
    the panels that count rare events draws 10 at either window and says "per minute".
    promtool evaluates each line's query at both windows."""
    panels = {p["title"]: p for p in json.loads(DASHBOARD.read_text())["panels"]}
    series, checks = [], []
    for title, counters in COUNTS.items():
        lines = [t for t in panels[title]["targets"] if "_total" in t["expr"]]
        assert [t["expr"].split("(")[-1].split("{")[0] for t in lines] == list(counters)
        for target, counter in zip(lines, counters, strict=True):
            assert target["legendFormat"].endswith(" per minute"), target["legendFormat"]
            labels = 'job="sesd",instance="a",queue="q",reason="r",sink="s",outcome="failed"'
            labels += ',account="default",region="eu-west-1",api="get_account",error="x"'
            # 2.5 every 15 s scrape: 10 a minute.
            series.append({"series": f"{counter}{{{labels}}}", "values": "0+2.5x400"})
            for window in ("1m", "10m"):
                expr = filled(target["expr"]).replace("[1m]", f"[{window}]")
                checks.append({"expr": f"round(sum({expr}), 0.001)", "eval_time": "90m",
                               "exp_samples": [{"labels": "{}", "value": 10}]})  # fmt: skip
    test = {"tests": [{"interval": "15s", "input_series": series, "promql_expr_test": checks}]}
    promtool_passes(tmp_path, test)
