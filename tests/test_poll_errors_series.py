"""A failed account poll must be seen by the rule that alerts on it at once.

Prometheus's increase() and rate() read a series from its first sample: a series that
first appears at 1 never shows that first increment, so SesdAccountPollFailing would
fire a poll (minutes) late, or never for a single failure. It reads
``sesd_ses_poll_failures_total``, exported at 0 from the first call of an API whatever
the failure; ``sesd_ses_poll_errors_total``'s known codes are exported at 0 too, but an
exception's name (no answer) cannot be known ahead.
"""

from __future__ import annotations

import re
from pathlib import Path
from typing import Any

import yaml
from prometheus_client.parser import text_string_to_metric_families

from sesd.account.codes import KNOWN_CODES, OTHER
from sesd.commands.demo.localsqs import LocalSqs
from sesd.config import core_settings, parse_config
from sesd.core.pipeline import Pipeline
from sesd.metrics.accounts import AccountCollector
from sesd.metrics.exposition import render
from tests.fake_ses import FakeSes
from tests.test_account_health import TARGET, _poller
from tests.test_artifacts import PROMETHEUS, promtool_passes

ERRORS = "sesd_ses_poll_errors_total"
FAILURES = "sesd_ses_poll_failures_total"


Labels = tuple[tuple[str, str], ...]


def _scrape(pipeline: Pipeline, name: str = ERRORS) -> dict[Labels, float]:
    """The series of family ``name`` in one scrape, by their labels."""
    ledger = pipeline.ledger
    text = render([*AccountCollector(ledger.reputation, ledger.accounts, polled=True).collect()])
    return {
        tuple(sorted(s.labels.items())): s.value
        for family in text_string_to_metric_families(text.decode())
        for s in family.samples
        if s.name == name
    }


def _fires_on_the_first_failure(
    scrapes: dict[str, tuple[dict[Labels, float], dict[Labels, float]]],
    tmp_path: Path,
    target: tuple[str, str] = TARGET,
) -> None:
    """promtool, fed each family's scrapes before and after one failed GetAccount poll
    as Prometheus would have taken them, fires SesdAccountPollFailing for ``target``'s
    get_account after its 10m ``for``."""

    def series(name: str, labels: Labels) -> dict[str, str]:
        """5 scrapes of ``before`` a minute apart, then 20 of ``after`` ('_': none)."""
        before, after = scrapes[name]
        shown = ",".join(f'{k}="{v}"' for k, v in labels)
        was = before.get(labels)
        return {
            "series": f'{name}{{job="sesd",instance="a",{shown}}}',
            "values": ("_x4 " if was is None else f"{was:g}x4 ") + f"{after[labels]:g}x19",
        }

    labels = {"account": target[0], "region": target[1], "api": "get_account"}
    rules = yaml.safe_load((PROMETHEUS / "sesd.rules.yml").read_text())
    (rule,) = [
        rule
        for group in rules["groups"]
        for rule in group["rules"]
        if rule.get("alert") == "SesdAccountPollFailing"
    ]
    annotations = {}
    for key, text in rule["annotations"].items():
        # A target without a namespace (not a PodMonitor's): no fleet to name.
        text = re.sub(r"\{\{ with \$labels\.namespace \}\}.*?\{\{ end \}\}", "", text)
        for name, value in labels.items():
            text = text.replace(f"{{{{ $labels.{name} }}}}", value)
        annotations[key] = text
    test: dict[str, Any] = {
        "rule_files": [str(PROMETHEUS / "sesd.rules.yml")],
        "evaluation_interval": "1m",
        "tests": [{
            "interval": "1m",
            "input_series": [
                series(name, labels) for name, (_, after) in scrapes.items()
                for labels in sorted(after)
            ],
            "alert_rule_test": [{
                "eval_time": "16m",
                "alertname": "SesdAccountPollFailing",
                "exp_alerts": [{
                    "exp_labels": {"severity": "warning", **labels},
                    "exp_annotations": annotations,
                }],
            }],
        }],
    }  # fmt: skip
    promtool_passes(tmp_path, test)


async def test_the_first_failed_poll_is_a_step_from_0_that_fires_the_alert(
    local_sqs: LocalSqs, tmp_path: Path
) -> None:
    """GetAccount answers a poll, then is refused (AccessDeniedException). The scrape
    between them already holds the refusal's series at 0 (and every other known code's,
    and ``other``'s), so the scrape after the refusal is a step from 0 to 1: promtool,
    fed these two scrapes as Prometheus would have taken them, fires
    SesdAccountPollFailing for the account's get_account after its 10m ``for`` — on the
    first failure, not the second."""
    pipeline = Pipeline(core_settings(parse_config("")))
    async with FakeSes() as fake, _poller(fake, local_sqs, pipeline) as poller:
        await poller.poll_once()
        before = _scrape(pipeline)
        failed_before = _scrape(pipeline, FAILURES)
        fake.script_account((403, "AccessDeniedException"))
        await poller.poll_once()
        after = _scrape(pipeline)
        failed_after = _scrape(pipeline, FAILURES)
    scrapes = {ERRORS: (before, after), FAILURES: (failed_before, failed_after)}
    _fires_on_the_first_failure(scrapes, tmp_path)
    codes = {dict(labels)["error"] for labels in before}  # every labels has an error
    assert codes == {*KNOWN_CODES, OTHER}
    refused = (("account", TARGET[0]), ("api", "get_account"),
               ("error", "AccessDeniedException"), ("region", TARGET[1]))  # fmt: skip
    assert (before[refused], after[refused]) == (0, 1)
    assert sum(after.values()) == 1


async def test_the_first_poll_with_no_answer_fires_the_alert(
    local_sqs: LocalSqs, tmp_path: Path
) -> None:
    """GetAccount answers a poll, then nothing listens at its endpoint any more (no
    answer: EndpointConnectionError). That error's series of
    sesd_ses_poll_errors_total first appears at 1, as it must (an exception's name is
    not known ahead); sesd_ses_poll_failures_total's series for the API was exported at
    0 before and steps to 1, and SesdAccountPollFailing, which reads it, fires after
    its 10m ``for`` on this first failure."""
    pipeline = Pipeline(core_settings(parse_config("")))
    fake = FakeSes()
    async with _poller(fake, local_sqs, pipeline) as poller:
        async with fake:
            await poller.poll_once()
        before = _scrape(pipeline)
        failed_before = _scrape(pipeline, FAILURES)
        await poller.poll_once()  # the endpoint is gone: no answer
        after = _scrape(pipeline)
        failed_after = _scrape(pipeline, FAILURES)
    where = (("account", TARGET[0]), ("api", "get_account"), ("region", TARGET[1]))
    assert {dict(labels)["error"] for labels, n in after.items() if n} == {
        "EndpointConnectionError"
    }
    assert (failed_before.get(where), failed_after.get(where)) == (0, 1)
    _fires_on_the_first_failure(
        {ERRORS: (before, after), FAILURES: (failed_before, failed_after)}, tmp_path
    )


async def test_an_account_polled_first_after_a_scrape_has_its_failures_at_0_before(
    local_sqs: LocalSqs, tmp_path: Path
) -> None:
    """A reload adds a region: its first poll comes at the next round, up to
    ``poll_every`` later, and Prometheus scrapes in between. Each API the round asks
    of it (GetAccount, CloudWatch's GetMetricData) has its failures exported at 0 from
    the reload, as every target's are at start before the first poll, so its first
    poll refused is a step from 0 that SesdAccountPollFailing fires on (a series
    first exported at 1 would hide it until the next failure, a round later)."""
    pipeline = Pipeline(core_settings(parse_config("")))
    added = (TARGET[0], "us-east-1")
    apis = {"get_account", "get_metric_data"}

    def apis_at_0(scrape: dict[Labels, float], target: tuple[str, str]) -> set[str]:
        where = {("account", target[0]), ("region", target[1])}
        return {
            dict(labels)["api"] for labels, n in scrape.items() if where <= set(labels) and n == 0
        }

    async with FakeSes() as fake, _poller(fake, local_sqs, pipeline, cloudwatch=True) as poller:
        assert apis_at_0(_scrape(pipeline, FAILURES), TARGET) == apis
        await poller.poll_once()
        poller.targets = [TARGET, added]
        before, failed_before = _scrape(pipeline), _scrape(pipeline, FAILURES)
        assert apis_at_0(failed_before, added) == apis
        fake.script_account(200, (403, "AccessDeniedException"))  # TARGET's, then added's
        await poller.poll_once()
        after, failed_after = _scrape(pipeline), _scrape(pipeline, FAILURES)
    scrapes = {ERRORS: (before, after), FAILURES: (failed_before, failed_after)}
    _fires_on_the_first_failure(scrapes, tmp_path, added)
