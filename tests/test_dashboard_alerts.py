"""The panel a fleet alert's runbook points to draws the figure the alert fired on, as
promtool reads the shipped rules and the panel's query together."""

from __future__ import annotations

import json
from pathlib import Path

from tests.test_artifacts import DASHBOARD, filled, promtool_passes, shipped_rules_give


def _bucket(fleet: str, instance: str, le: str, per_minute: int) -> dict[str, str]:
    labels = f'job="sesd",namespace="{fleet}",instance="{instance}",le="{le}"'
    return {
        "series": f"sesd_delivery_processing_seconds_bucket{{{labels}}}",
        "values": f"0+{per_minute}x30",
    }


def test_the_processing_time_panel_draws_what_sesd_processing_slow_fired_on(
    tmp_path: Path,
) -> None:
    """SES takes 60 to 120 s for every delivery of fleet prod (two replicas) and under a
    minute for staging's: SesdProcessingSlow fires for prod at a p95 of 117 s over 15
    minutes. "SES processing time quantiles", the panel its runbook names ("Where the time
    goes"), draws that figure for each fleet from the recording rule the alert reads, not
    only its short-window quantiles of every fleet's deliveries pooled, so the on-call
    finds on the dashboard the number that paged."""
    panels = json.loads(DASHBOARD.read_text())["panels"]
    (panel,) = [p for p in panels if p["title"].startswith("SES processing time quantiles")]
    fleet = [
        filled(t["expr"])
        for t in panel["targets"]
        if t["expr"].startswith("sesd:delivery_processing_seconds:p95_15m")
    ]
    assert len(fleet) == 1, [t["expr"] for t in panel["targets"]]
    series = [
        _bucket("prod", instance, le, per_minute)
        for instance, per_minute in (("10.0.0.7:9585", 10), ("10.0.1.4:9585", 5))
        for le, per_minute in (("60", 0), ("120", per_minute), ("+Inf", per_minute))
    ] + [_bucket("staging", "10.0.2.9:9585", le, 20) for le in ("60", "120", "+Inf")]
    shipped_rules_give(tmp_path, series, [
        {
            "expr": fleet[0],
            "eval_time": "28m",
            "exp_samples": [
                {"labels": '{__name__="sesd:delivery_processing_seconds:p95_15m",'
                           'namespace="prod"}', "value": 117},
                {"labels": '{__name__="sesd:delivery_processing_seconds:p95_15m",'
                           'namespace="staging"}', "value": 57},
            ],
        },
        {
            "expr": 'ALERTS{alertname="SesdProcessingSlow",alertstate="firing"}',
            "eval_time": "28m",
            "exp_samples": [
                {"labels": 'ALERTS{alertname="SesdProcessingSlow",alertstate="firing",'
                           'namespace="prod",severity="warning"}', "value": 1},
            ],
        },
    ])  # fmt: skip


#: Fleet alerts firing at once that differ only in the label their rule keeps beside
#: the namespace: two tasks of one replica, two APIs of one account, two reasons the
#: canary's calls fail.
_ALERTS = (
    ('alertname="SesdTaskFailing",severity="warning",instance="10.0.0.7:9585",pod="sesd-0"',
     "task", ("alerting", "tenants")),
    ('alertname="SesdAccountPollFailing",severity="warning",account="default",'
     'region="us-east-1"', "api", ("ses", "cloudwatch")),
    ('alertname="SesdCanarySendErrors",severity="warning"', "reason", ("auth", "throttled")),
)  # fmt: skip


def test_each_fleet_alert_firing_is_a_line_of_its_own(tmp_path: Path) -> None:
    """Two alerts of one rule that differ in the task, API or reason their rule keeps
    (SesdTaskFailing for two tasks, SesdAccountPollFailing for two APIs,
    SesdCanarySendErrors for two reasons) are two lines of "Fleet alerts firing", each
    at 1 and its legend naming what differs, not one line at 2 that names neither.
    promtool evaluates the panel's query on the ALERTS series Prometheus would hold."""
    panels = json.loads(DASHBOARD.read_text())["panels"]
    (panel,) = [p for p in panels if p["title"].startswith("Fleet alerts firing")]
    ((expr, legend),) = [(filled(t["expr"]), t["legendFormat"]) for t in panel["targets"]]
    series, expected = [], []
    for labels, label, values in _ALERTS:
        for value in values:
            one = f'namespace="prod",{labels},{label}="{value}"'
            series.append({"series": f'ALERTS{{{one},alertstate="firing"}}', "values": "1x10"})
            kept = one.replace(',severity="warning"', "")
            expected.append({"labels": f"{{{kept}}}", "value": 1})
    test = {
        "tests": [
            {
                "interval": "1m",
                "input_series": series,
                "promql_expr_test": [{"expr": expr, "eval_time": "5m", "exp_samples": expected}],
            }
        ]
    }
    promtool_passes(tmp_path, test)
    assert [label for _, label, _ in _ALERTS if "{{" + label + "}}" not in legend] == []


def test_the_built_in_alerts_panel_draws_those_that_fire(tmp_path: Path) -> None:
    """sesd keeps a state, and a sample of sesd_alerts_firing, for every domain each rule
    reads: 200 domains and three rules are 600 series, at 0 but the few that fire.
    "Built-in alerts firing" draws those that fire, not a legend of hundreds of 0s with
    the one at 1 somewhere among them. promtool evaluates the panel's query on a
    replica's states: one firing, one pending (0), one quiet (0)."""
    panels = json.loads(DASHBOARD.read_text())["panels"]
    ((expr,),) = [
        [filled(t["expr"]) for t in p["targets"]]
        for p in panels
        if p["title"] == "Built-in alerts firing"
    ]
    where = 'job="sesd",namespace="prod",instance="10.0.0.7:9585"'
    states = {"outlook.com": 1, "gmail.com": 0, "yahoo.com": 0}
    series = [
        {"series": f'sesd_alerts_firing{{{where},rule="delay-ratio-high",domain="{domain}"}}',
         "values": f"{value}x10"}
        for domain, value in states.items()
    ]  # fmt: skip
    firing = '{namespace="prod",rule="delay-ratio-high",domain="outlook.com"}'
    test = {
        "tests": [
            {
                "interval": "1m",
                "input_series": series,
                "promql_expr_test": [
                    {
                        "expr": expr,
                        "eval_time": "5m",
                        "exp_samples": [{"labels": firing, "value": 1}],
                    }
                ],
            }
        ]
    }
    promtool_passes(tmp_path, test)


def test_the_event_lag_panel_draws_what_sesd_event_lag_high_fired_on(tmp_path: Path) -> None:
    """Replica a of fleet prod reads events 400 s behind, b 30 s: SesdEventLagHigh fires
    at the furthest, 400 s. "Event lag" draws that figure for the fleet beside the
    quantiles of the events received lately, so the number that paged is on the panel;
    a replica stuck behind a backlog it reads slowly may receive few events in a minute,
    and the quantiles alone say little of how far behind it is. promtool evaluates the
    panel's query with the shipped rules."""
    panels = json.loads(DASHBOARD.read_text())["panels"]
    (panel,) = [p for p in panels if p["title"].startswith("Event lag")]
    latest = [
        filled(t["expr"])
        for t in panel["targets"]
        if "(sesd_event_lag_latest_seconds{" in t["expr"]
    ]
    assert len(latest) == 1, [t["expr"] for t in panel["targets"]]
    where = 'job="sesd",namespace="prod"'
    series = [
        {"series": f'sesd_event_lag_latest_seconds{{{where},instance="a"}}', "values": "400x10"},
        {"series": f'sesd_event_lag_latest_seconds{{{where},instance="b"}}', "values": "30x10"},
    ]
    alert = f'ALERTS{{alertname="SesdEventLagHigh",alertstate="firing",{where},severity="warning"}}'
    shipped_rules_give(tmp_path, series, [
        {"expr": latest[0], "eval_time": "5m",
         "exp_samples": [{"labels": f"{{{where}}}", "value": 400}]},
        {"expr": 'ALERTS{alertname="SesdEventLagHigh",alertstate="firing"}',
         "eval_time": "5m", "exp_samples": [{"labels": alert, "value": 1}]},
    ])  # fmt: skip
