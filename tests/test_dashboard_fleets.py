"""The dashboard's namespace variable at All, its default, with two fleets scraped by one
Prometheus: what is not a count to add up stays each fleet's own, as promtool reads it."""

from __future__ import annotations

import json
from pathlib import Path

from tests.test_artifacts import DASHBOARD, filled, promtool_passes

#: Where both fleets' series are: one job, each fleet its namespace, and each its own
#: AWS account under the same label (the default credentials' `default`).
PROD = 'job="sesd",namespace="prod",instance="10.0.0.7:9585"'
STAGING = 'job="sesd",namespace="staging",instance="10.0.2.9:9585"'
ACCOUNT = 'account="default",region="us-east-1"'
ACME = f'{ACCOUNT},tenant="acme"'

#: (panel title, query refId, input series and their values, the samples expected at 5m).
Case = tuple[str, str, list[tuple[str, str]], list[tuple[str, float]]]
CASES: dict[str, Case] = {
    "an alert firing in staging is not prod's": (
        "Built-in alerts firing",
        "A",
        [
            (f'sesd_alerts_firing{{{PROD},rule="delay-ratio-high",domain="gmail.com"}}', "0x10"),
            (f'sesd_alerts_firing{{{STAGING},rule="delay-ratio-high",domain="gmail.com"}}', "1x10"),
        ],
        [('{namespace="staging",rule="delay-ratio-high",domain="gmail.com"}', 1)],
    ),
    "staging's fresh canary does not hide prod's missing one": (
        "Since the last canary came back",
        "A",
        [
            (f"sesd_canary_last_back_timestamp_seconds{{{PROD}}}", "60x10"),
            (f"sesd_canary_last_back_timestamp_seconds{{{STAGING}}}", "290x10"),
        ],
        [('{namespace="prod"}', 240), ('{namespace="staging"}', 10)],
    ),
    "two fleets on a config each are not two configs in one fleet": (
        "Configs in force",
        "A",
        [
            (f'sesd_config_info{{{PROD},digest="aaaa"}}', "1x10"),
            (f'sesd_config_info{{{PROD.replace("0.7", "1.4")},digest="aaaa"}}', "1x10"),
            (f'sesd_config_info{{{STAGING},digest="bbbb"}}', "1x10"),
        ],
        [('{namespace="prod"}', 1), ('{namespace="staging"}', 1)],
    ),
    "staging's account paused is not prod's": (
        "Sending enabled, and status not HEALTHY",
        "A",
        [
            (f"sesd_ses_sending_enabled{{{PROD},{ACCOUNT}}}", "1x10"),
            (f"sesd_ses_sending_enabled{{{STAGING},{ACCOUNT}}}", "0x10"),
        ],
        [
            (f'{{namespace="prod",{ACCOUNT}}}', 1),
            (f'{{namespace="staging",{ACCOUNT}}}', 0),
        ],
    ),
    "staging's account on probation is not prod's": (
        "Sending enabled, and status not HEALTHY",
        "B",
        [
            (f'sesd_ses_enforcement_status{{{PROD},{ACCOUNT},status="HEALTHY"}}', "1x10"),
            (f'sesd_ses_enforcement_status{{{STAGING},{ACCOUNT},status="PROBATION"}}', "1x10"),
        ],
        [(f'{{namespace="staging",{ACCOUNT},status="PROBATION"}}', 1)],
    ),
    "staging's quota nearly used is not prod's": (
        "24-hour quota used",
        "A",
        [
            (f"sesd_ses_quota_used_ratio{{{PROD},{ACCOUNT}}}", "0.1x10"),
            (f"sesd_ses_quota_used_ratio{{{STAGING},{ACCOUNT}}}", "0.9x10"),
        ],
        [(f'{{namespace="prod",{ACCOUNT}}}', 0.1), (f'{{namespace="staging",{ACCOUNT}}}', 0.9)],
    ),
    "staging's failing polls are not prod's": (
        "Account polls failing",
        "B",
        [
            (f'sesd_ses_poll_failures_total{{{PROD},{ACCOUNT},api="ses"}}', "0x10"),
            (f'sesd_ses_poll_failures_total{{{STAGING},{ACCOUNT},api="ses"}}', "0+1x10"),
        ],
        [
            (f'{{namespace="prod",{ACCOUNT},api="ses"}}', 0),
            (f'{{namespace="staging",{ACCOUNT},api="ses"}}', 1),
        ],
    ),
    "a tenant paused in staging is not paused in prod": (
        "Tenants paused (sending status DISABLED)",
        "A",
        [
            (
                f'sesd_ses_reputation_entity_sending_status{{{PROD},{ACME},status="DISABLED"}}',
                "0x10",
            ),
            (
                f'sesd_ses_reputation_entity_sending_status{{{STAGING},{ACME},status="DISABLED"}}',
                "1x10",
            ),
        ],
        [(f'{{namespace="staging",{ACME}}}', 1)],
    ),
    "a tenant's HIGH impact in staging is not prod's": (
        "Tenants with a HIGH reputation impact",
        "A",
        [
            (f'sesd_ses_reputation_entity_impact{{{PROD},{ACME},impact="HIGH"}}', "0x10"),
            (f'sesd_ses_reputation_entity_impact{{{STAGING},{ACME},impact="HIGH"}}', "1x10"),
        ],
        [(f'{{namespace="staging",{ACME}}}', 1)],
    ),
}

#: The rates of each fleet's account, AWS's figure and sesd's estimate: prod bounces 1%
#: by AWS and 2% by its replica, staging 8% and 6%; together sesd's would be 4%.
for _kind in ("bounce", "complaint"):
    CASES[f"staging's {_kind} rate is not prod's"] = (
        f"{_kind.capitalize()} rate: AWS's figure and sesd's estimate",
        "A",
        [
            (f'sesd_ses_reputation_{_kind}_ratio{{{fleet},{ACCOUNT},configuration_set="",'
             f'source="{source}"}}', f"{value}x10")
            for fleet, aws, sesd in ((PROD, 0.01, 0.02), (STAGING, 0.08, 0.06))
            for source, value in (("aws", aws), ("sesd", sesd))
        ]
        + [
            (f'sesd_ses_reputation_sends{{{fleet},{ACCOUNT},configuration_set=""}}', "1000x10")
            for fleet in (PROD, STAGING)
        ],
        [
            (f'{{namespace="{fleet}",{ACCOUNT},source="{source}"}}', value)
            for fleet, aws, sesd in (("prod", 0.01, 0.02), ("staging", 0.08, 0.06))
            for source, value in (("aws", aws), ("sesd", sesd))
        ],
    )  # fmt: skip


def test_with_every_fleet_shown_each_keeps_what_is_its_own(tmp_path: Path) -> None:
    """Two fleets (prod and staging, each its own AWS account under the label `default`)
    and the namespace variable at All: each panel of CASES draws each fleet's figure,
    named, where adding or taking the max over both would show one fleet's alert, paused
    account, missing canary or paused tenant as the other's, or a second config where
    each fleet runs one. promtool evaluates each panel's query on both fleets' samples
    (a test of its own each: promtool names the query that fails)."""
    panels = json.loads(DASHBOARD.read_text())["panels"]
    tests = []
    for title, ref, series, expected in CASES.values():
        (expr,) = [
            filled(t["expr"])
            for p in panels
            if p["title"] == title
            for t in p["targets"]
            if t["refId"] == ref
        ]
        check = {
            "expr": expr,
            "eval_time": "5m",
            "exp_samples": [{"labels": k, "value": v} for k, v in expected],
        }
        tests.append(
            {
                "interval": "1m",
                "input_series": [{"series": s, "values": v} for s, v in series],
                "promql_expr_test": [check],
            }
        )
    promtool_passes(tmp_path, {"tests": tests})


#: The panels drawing quantiles of a histogram: (title, refId, the histogram, the
#: quantile).
QUANTILES = [
    ("SES processing time quantiles (all domains)", ref, "sesd_delivery_processing_seconds", q)
    for ref, q in (("A", 0.5), ("B", 0.95), ("C", 0.99))
] + [
    ("Event lag (receive time minus event time)", ref, "sesd_event_lag_seconds", q)
    for ref, q in (("A", 0.5), ("B", 0.95))
] + [
    ("Canary time per stage (p95 over 15m)", ref, f"sesd_canary_{stage}_seconds", 0.95)
    for ref, stage in zip("ABCD", ("send", "ses_processing", "event_pipeline", "end_to_end"),
                          strict=True)
]  # fmt: skip


def test_with_every_fleet_shown_each_fleets_quantiles_are_its_own(tmp_path: Path) -> None:
    """Prod's deliveries, lags and canaries all take at most 0.5 s, staging's 0.5 to 1 s,
    as many of each, and the namespace variable at All: a quantile of both fleets'
    buckets added (a p95 of 0.95 s) is neither fleet's, and hides which one is slow.
    Each quantile panel draws each fleet's quantile as a line of its own, named by its
    namespace (prod's p95 0.475 s, staging's 0.975 s). promtool evaluates each query on
    both fleets' samples."""
    panels = json.loads(DASHBOARD.read_text())["panels"]
    drawn = {
        (p["title"], t["refId"]): t
        for p in panels
        for t in p.get("targets", [])
        if "histogram_quantile" in t["expr"]
    }
    assert set(drawn) == {(title, ref) for title, ref, _, _ in QUANTILES}
    tests = []
    for title, ref, histogram, q in QUANTILES:
        target = drawn[title, ref]
        assert target["legendFormat"].startswith("{{namespace}} "), target["legendFormat"]
        series = [
            {"series": f'{histogram}_bucket{{{fleet},le="{le}"}}', "values": f"0+{count}x20"}
            for fleet, counts in ((PROD, (60, 60, 60)), (STAGING, (0, 60, 60)))
            for le, count in zip(("0.5", "1", "+Inf"), counts, strict=True)
        ]
        expected = [
            {"labels": '{namespace="prod"}', "value": 0.5 * q},
            {"labels": '{namespace="staging"}', "value": 0.5 + 0.5 * q},
        ]
        check = {"expr": filled(target["expr"]), "eval_time": "10m", "exp_samples": expected}
        tests.append({"interval": "1m", "input_series": series, "promql_expr_test": [check]})
    promtool_passes(tmp_path, {"tests": tests})


#: The panels drawing a replica's own window figure at its worst replica: (title, refId,
#: the gauge, its other labels, the label the panel draws by).
WORST_REPLICA = [
    ("Processing time p95 by domain", "A", "sesd_window_processing_seconds",
     'quantile="0.95",', "domain"),
    ("How long delays lasted, p95 by domain", "A", "sesd_window_delay_duration_seconds",
     'quantile="0.95",', "domain"),
    ("Delay ratio, 15m window", "B", "sesd_window_delay_ratio", "", "domain"),
    ("Delay ratio by provider, 15m window", "B", "sesd_provider_window_delay_ratio", "",
     "provider"),
    ("Delay ratio by tenant, 15m", "B", "sesd_tenant_window_delay_ratio", "", "tenant"),
]  # fmt: skip


def test_with_every_fleet_shown_each_fleets_worst_replica_is_its_own(tmp_path: Path) -> None:
    """gmail.com (its provider, its tenant) in both fleets, the namespace variable at All:
    prod's replicas give it 1 and 2 (a p95 in seconds, or a delay ratio), staging's 7.
    Each worst-replica panel drew one line per domain, the max over every replica of both
    fleets (7): prod's worst replica, 2, was drawn nowhere, and the line named no fleet.
    It draws each fleet's worst replica, named by its namespace. promtool evaluates each
    query (with the delayed recipients and alerts the delay ratio's line is kept by)."""
    panels = json.loads(DASHBOARD.read_text())["panels"]
    tests = []
    for title, ref, gauge, extra, by in WORST_REPLICA:
        (target,) = [
            t
            for p in panels
            if p["title"].startswith(title)
            for t in p["targets"]
            if t["refId"] == ref
        ]
        assert target["legendFormat"] == f"{{{{namespace}}}} {{{{{by}}}}} (worst replica)"
        name = {"domain": "gmail.com", "provider": "google", "tenant": "acme"}[by]
        replicas = [(PROD, 1), (PROD.replace("0.7", "1.4"), 2), (STAGING, 7)]
        series = [
            {"series": f'{gauge}{{{fleet},{extra}window="15m",{by}="{name}"}}', "values": f"{v}x10"}
            for fleet, v in replicas
        ] + [
            {
                "series": f'sesd_window_recipient_events{{{fleet},window="15m",'
                f'event_type="delivery_delay",domain="{name}"}}',
                "values": "5x10",
            }
            for fleet, _ in replicas
        ]
        expected = [
            {"labels": f'{{namespace="prod",{by}="{name}"}}', "value": 2},
            {"labels": f'{{namespace="staging",{by}="{name}"}}', "value": 7},
        ]
        check = {"expr": filled(target["expr"]), "eval_time": "5m", "exp_samples": expected}
        tests.append({"interval": "1m", "input_series": series, "promql_expr_test": [check]})
    promtool_passes(tmp_path, {"tests": tests})
