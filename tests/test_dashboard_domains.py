"""The dashboard's per-domain panels with far more domains than lines a panel can show
(`[domains] max_tracked` raised to the 10,000 domains one sends to): each draws the 20
that matter most, as promtool reads its query."""

from __future__ import annotations

import json
from collections.abc import Callable
from pathlib import Path

from tests.test_artifacts import DASHBOARD, filled, promtool_passes, shipped_rules_give

#: Domains 1 to 25: domain i has i recipients delayed, bounced and complained, 300 - 10 i
#: delivered and 2 i more sent than delivered (a second, or a window); tiny.example one
#: recipient of each but delivered, 100% of its mail delayed and bounced. The 20 with the
#: most delayed, bounced or undelivered recipients, or the highest figure, are 6 to 25.
DOMAINS = range(1, 26)
TOP = range(6, 26)


def _delivered(i: int) -> int:
    return 300 - 10 * i


def _name(i: int) -> str:
    return f"d{i:02}.example"


def _counts(i: int) -> dict[str, int]:
    sent = _delivered(i) + 2 * i
    return {"delivery": _delivered(i), "delivery_delay": i, "bounce": i, "complaint": i,
            "send": sent}  # fmt: skip


TINY = {"delivery": 0, "delivery_delay": 1, "bounce": 1, "complaint": 1, "send": 1}


def _series() -> list[dict[str, str]]:
    """Every domain's counters, windows, quantiles and pending recipients."""
    found = []
    rows = [(_name(i), _counts(i), i) for i in DOMAINS] + [("tiny.example", TINY, 0.5)]
    for domain, counts, figure in rows:
        one = f'job="sesd",instance="10.0.0.7:9585",domain="{domain}"'
        delayed = counts["delivery_delay"]
        gauges = {
            'sesd_window_delay_ratio{window="15m"}': delayed / (counts["delivery"] + delayed),
            'sesd_window_processing_seconds{window="15m",quantile="0.95"}': figure,
            'sesd_window_delay_duration_seconds{window="15m",quantile="0.95"}': 10 * figure,
            "sesd_delayed_recipients_pending{}": figure,
        }
        for event_type, count in counts.items():
            kind = f'event_type="{event_type}"}}'
            # 60 a minute: rate() reads `count` a second, exactly.
            found.append(
                {
                    "series": f"sesd_recipient_events_total{{{one},{kind}",
                    "values": f"0+{60 * count}x10",
                }
            )
            gauges |= {
                f'sesd_window_recipient_events{{window="{window}",{kind}': count
                for window in ("15m", "1h")
            }
        for series, value in gauges.items():
            name, labels = series.split("{", 1)
            labels = f"{one},{labels}" if labels != "}" else f"{one}}}"
            found.append({"series": f"{name}{{{labels}", "values": f"{value!r}x10"})
    return found


def _share(i: int) -> float:
    """Delayed (or bounced, complained) over delivered and delayed (or bounced)."""
    return i / (_delivered(i) + i)


#: (panel title, refId, the recorded name the query keeps, each top domain's value).
CASES: dict[str, tuple[str, str, str, Callable[[int], float]]] = {
    "delay ratio": ("Delay ratio by domain", "A", "", _share),
    "fleet delay ratio, 15m": ("Delay ratio, 15m window", "A", "sesd:delay_ratio:15m", _share),
    "worst replica's delay ratio, 15m": ("Delay ratio, 15m window", "B", "", _share),
    "bounce ratio, 1h": ("Bounce and complaint ratios", "A", "sesd:bounce_ratio:1h", _share),
    "complaint ratio, 1h": ("Bounce and complaint ratios", "B", "sesd:complaint_ratio:1h", _share),
    "processing time p95": ("Processing time p95 by domain", "A", "", float),
    "pending": ("Recipients delayed now (pending)", "A", "", float),
    "how long delays lasted": ("How long delays lasted", "A", "", lambda i: 10.0 * i),
    "delivery ratio": ("Delivery ratio by domain", "A", "",
                       lambda i: _delivered(i) / (_delivered(i) + 2 * i)),
}  # fmt: skip


def test_a_per_domain_panel_draws_the_twenty_domains_that_matter(tmp_path: Path) -> None:
    """26 domains, the namespace and domain variables at All: each per-domain panel draws
    20, those with the most delayed (bounced, complained, undelivered) recipients or the
    highest figure, not every domain sesd labels: at 10,000 domains each such query
    answered 10,000 lines over the dashboard's range, more than Grafana draws or anyone
    reads, and the few domains that matter were lost among them. A domain whose one
    recipient was delayed and bounced (100%) is not one of them. promtool evaluates each
    panel's query, the shipped rules recording the fleet ratios it reads."""
    panels = json.loads(DASHBOARD.read_text())["panels"]
    checks = []
    for title, ref, name, value in CASES.values():
        (expr,) = [
            filled(t["expr"])
            for p in panels
            if p["title"].startswith(title)
            for t in p["targets"]
            if t["refId"] == ref
        ]
        named = f'__name__="{name}",' if name else ""
        expected = [{"labels": f'{{{named}domain="{_name(i)}"}}', "value": value(i)} for i in TOP]
        checks.append({"expr": expr, "eval_time": "5m", "exp_samples": expected})
    shipped_rules_give(tmp_path, _series(), checks)


#: 20 big domains, 1% of their mail delayed, bounced (and 0.05% complained): none
#: fires. mid.example, 10% of 100 recipients delayed and 10% bounced, and
#: loud.example, 0.2% of 1,000 complained, fire a fleet alert each, though 20 domains
#: have more delays, bounces or complaints than they do.
_BIG = {"delivery": 9900, "delivery_delay": 100, "bounce": 100, "complaint": 5}
_FIRING = {
    "mid.example": {"delivery": 90, "delivery_delay": 10, "bounce": 10, "complaint": 0},
    "loud.example": {"delivery": 1000, "delivery_delay": 0, "bounce": 0, "complaint": 2},
}


def _window_series(namespace: str, domains: dict[str, dict[str, int]]) -> list[dict[str, str]]:
    """The 15m and 1h windows of one replica of the fleet ``namespace`` ("" for a target
    without one, as a plain scrape config gives it)."""
    where = f'job="sesd",instance="{namespace or "a"}",' + (
        f'namespace="{namespace}",' if namespace else ""
    )
    return [
        {"series": f'sesd_window_recipient_events{{{where}domain="{domain}",'
                   f'window="{window}",event_type="{event_type}"}}', "values": f"{count}x20"}
        for domain, counts in domains.items()
        for window in ("15m", "1h")
        for event_type, count in counts.items()
    ]  # fmt: skip


def test_a_fleet_ratio_panel_draws_a_domain_its_alert_fires_for(tmp_path: Path) -> None:
    """Twenty domains have more delayed, bounced or complained recipients than
    mid.example and loud.example, but their ratios are low; SesdDelayRatioHigh and
    SesdBounceRatioHigh fire for mid.example, SesdComplaintRatioHigh for loud.example.
    Each fleet ratio panel "as sesd alerts on it" draws the domain its alert fires for
    beside the twenty, not only the twenty. promtool evaluates each panel's query with
    the shipped rules."""
    domains = {f"b{i:02}.example": _BIG for i in range(1, 21)} | _FIRING
    series = _window_series("", domains)
    big = [f"b{i:02}.example" for i in range(1, 21)]
    cases = [
        ("Delay ratio, 15m window", "A", "sesd:delay_ratio:15m", {"mid.example": 0.1}, 0.01),
        ("Bounce and complaint ratios", "A", "sesd:bounce_ratio:1h", {"mid.example": 0.1}, 0.01),
        ("Bounce and complaint ratios", "B", "sesd:complaint_ratio:1h",
         {"loud.example": 0.002}, 0.0005),
    ]  # fmt: skip
    panels = json.loads(DASHBOARD.read_text())["panels"]
    checks = []
    for title, ref, name, firing, each in cases:
        (expr,) = [
            filled(t["expr"])
            for p in panels
            if p["title"].startswith(title)
            for t in p["targets"]
            if t["refId"] == ref
        ]
        values = dict.fromkeys(big, each) | firing
        expected = [
            {"labels": f'{{__name__="{name}",domain="{domain}"}}', "value": value}
            for domain, value in values.items()
        ]
        checks.append({"expr": expr, "eval_time": "15m", "exp_samples": expected})
    shipped_rules_give(tmp_path, series, checks)


def test_a_fleet_sum_panel_draws_a_domain_an_alert_fires_for(tmp_path: Path) -> None:
    """Twenty big domains have more delayed and more undelivered recipients than
    mid.example and low.example. SesdDelayRatioHigh fires for mid.example (10% of its
    mail delayed); sesd's own rule on the delivery ratio fires for low.example (half
    its mail delivered). "Delay ratio by domain", summed over replicas, draws
    mid.example and low.example beside the twenty; "Delivery ratio by domain" draws
    low.example; neither draws loud.example, whose alert (SesdComplaintRatioHigh) is
    on neither, nor is any a built-in alert fires for. The page names a domain the
    panel would otherwise leave out. promtool evaluates each panel's query with the
    shipped rules."""
    big = {"delivery": 9900, "delivery_delay": 100, "bounce": 100, "complaint": 5, "send": 10100}
    domains = {f"b{i:02}.example": big for i in range(1, 21)} | {
        "mid.example": _FIRING["mid.example"] | {"send": 100},
        "loud.example": _FIRING["loud.example"] | {"send": 1000},
        "low.example": {"delivery": 50, "delivery_delay": 0, "bounce": 0, "complaint": 0,
                        "send": 100},
    }  # fmt: skip
    where = 'job="sesd",instance="a"'
    series = _window_series("", domains) + [
        {"series": f'sesd_recipient_events_total{{{where},domain="{domain}",'
                   f'event_type="{event_type}"}}', "values": f"0+{60 * count}x20"}
        for domain, counts in domains.items()
        for event_type, count in counts.items()
    ] + [
        {"series": f'sesd_alerts_firing{{{where},rule="{rule}",domain="{domain}"}}',
         "values": f"{firing}x20"}
        for rule, domain, firing in (("delivery-low", "low.example", 1),
                                     ("delivery-low", "loud.example", 0))
    ]  # fmt: skip
    top = dict.fromkeys((f"b{i:02}.example" for i in range(1, 21)), 0.01)
    delivered = dict.fromkeys(top, 9900 / 10100)
    cases = [
        ("Delay ratio by domain", top | {"mid.example": 0.1, "low.example": 0.0}),
        ("Delivery ratio by domain", delivered | {"low.example": 0.5}),
    ]
    panels = json.loads(DASHBOARD.read_text())["panels"]
    checks = []
    for title, values in cases:
        (expr,) = [filled(t["expr"]) for p in panels if p["title"].startswith(title)
                   for t in p["targets"]]  # fmt: skip
        expected = [{"labels": f'{{domain="{d}"}}', "value": v} for d, v in values.items()]
        checks.append({"expr": expr, "eval_time": "15m", "exp_samples": expected})
    shipped_rules_give(tmp_path, series, checks)


def _weighing(i: int) -> dict[str, int]:
    """Domain i of the big fleet: 100 + i of 100,000 recipients delayed and bounced, i
    complained, so that the 20 that weigh most are 2 to 21, with no tie among them, and
    no fleet alert fires."""
    return {"delivery": 99900, "delivery_delay": 100 + i, "bounce": 100 + i, "complaint": i}


def test_with_every_fleet_shown_a_small_fleets_domains_keep_their_lines(tmp_path: Path) -> None:
    """The namespace variable at All, two fleets: one without a namespace label (a plain
    scrape config) sends to 21 big domains, about 0.1% of their mail delayed and bounced;
    staging sends to one small domain, one recipient of each in 1,000. Each fleet ratio
    panel draws each fleet's recorded ratios as lines of their own, so it draws the 20
    domains of each fleet that weigh most: staging's small.example too, not the 20 of
    both fleets together, every one the big fleet's. promtool evaluates each panel's
    query with the shipped rules."""
    series = _window_series("", {f"b{i:02}.example": _weighing(i) for i in range(1, 22)})
    small = {"delivery": 999, "delivery_delay": 1, "bounce": 1, "complaint": 1}
    series += _window_series("staging", {"small.example": small})
    cases = [
        ("Delay ratio, 15m window", "A", "sesd:delay_ratio:15m", "delivery_delay"),
        ("Bounce and complaint ratios", "A", "sesd:bounce_ratio:1h", "bounce"),
        ("Bounce and complaint ratios", "B", "sesd:complaint_ratio:1h", "complaint"),
    ]
    panels = json.loads(DASHBOARD.read_text())["panels"]
    checks = []
    for title, ref, name, kind in cases:
        (expr,) = [
            filled(t["expr"])
            for p in panels
            if p["title"].startswith(title)
            for t in p["targets"]
            if t["refId"] == ref
        ]
        below = "delivery_delay" if kind == "delivery_delay" else "bounce"
        expected = [
            {"labels": f'{{__name__="{name}",domain="b{i:02}.example"}}',
             "value": _weighing(i)[kind] / (99900 + _weighing(i)[below])}
            for i in range(2, 22)
        ] + [
            {"labels": f'{{__name__="{name}",namespace="staging",domain="small.example"}}',
             "value": 0.001}
        ]  # fmt: skip
        checks.append({"expr": expr, "eval_time": "15m", "exp_samples": expected})
    shipped_rules_give(tmp_path, series, checks)


def test_the_worst_replicas_line_draws_a_domain_sesds_own_alert_fires_for(
    tmp_path: Path,
) -> None:
    """The fleet overlay's built-in delay-ratio-high fires on a replica's own 15m window
    at 20 recipients: replica a saw 3 of mid.example's 30 recipients delayed (10%) and
    fires. Twenty big domains have 100 delayed each, 1% of their mail. "Delay ratio, 15m
    window (as sesd alerts on it)" draws, on its worst replica's line, the ratio that
    rule reads for the domain it fires for beside the twenty, not only the twenty: the
    page names a domain the panel would otherwise not show. promtool evaluates the
    line's query on the replica's series."""
    where = 'job="sesd",namespace="sesd",instance="10.0.0.7:9585"'
    figures = {f"b{i:02}.example": (100, 0.01) for i in range(1, 21)} | {"mid.example": (3, 0.1)}
    series = []
    for domain, (delayed, ratio) in figures.items():
        one = f'{where},domain="{domain}",window="15m"'
        series += [
            {"series": f'sesd_window_recipient_events{{{one},event_type="delivery_delay"}}',
             "values": f"{delayed}x10"},
            {"series": f"sesd_window_delay_ratio{{{one}}}", "values": f"{ratio}x10"},
            {"series": f'sesd_alerts_firing{{{where},rule="delay-ratio-high",domain="{domain}"}}',
             "values": "1x10" if domain == "mid.example" else "0x10"},
        ]  # fmt: skip
    panels = json.loads(DASHBOARD.read_text())["panels"]
    (expr,) = [
        filled(t["expr"])
        for p in panels
        if p["title"].startswith("Delay ratio, 15m window")
        for t in p["targets"]
        if t["refId"] == "B"
    ]
    expected = [
        {"labels": f'{{namespace="sesd",domain="{domain}"}}', "value": ratio}
        for domain, (_, ratio) in figures.items()
    ]
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
