"""Rule evaluation of a large sender's config: how long one evaluation holds the event
loop, and what one (rule, label) step costs.

60 rules (delay, bounce and delivery ratios, processing p95 and two causes, each on
every domain over the 5m, 15m and 1h windows; the same over every provider) over
1,000 domains that all get events between two evaluations, so no label is quiet.
Against a baseline in the same run: the same labels under one rule. Prints the
median and p95 of an evaluation, its ratio to the one-rule baseline, and the µs a
step.
"""

from __future__ import annotations

import random
import statistics
import time

from sesd.alerting.evaluator import Evaluator
from sesd.config import core_settings, parse_config
from sesd.core.pipeline import Pipeline
from tests import factory as f

DOMAINS = 1_000
TICKS = 40
EVERY = 5.0
_METRICS = (
    ("delay_ratio", "above = 0.5"),
    ("bounce_ratio", "above = 0.5"),
    ("delivery_ratio", "below = 0.01"),
    ("processing_p95_seconds", "above = 3600"),
    ('cause_ratio"\ncause = "rate_limited', "above = 0.5"),
    ('cause_ratio"\ncause = "ip_reputation', "above = 0.5"),
)


def rules(many: bool) -> str:
    """The rules' config: 60 (many) or the first alone."""
    out: list[str] = []
    for scope in ('domains = ["*"]', 'providers = ["*"]'):
        for window in ("5m", "15m", "1h"):
            for metric, threshold in _METRICS:
                name = f"r{len(out)}"
                out.append(
                    f'[[alerts.rules]]\nname = "{name}"\nmetric = "{metric}"\n'
                    f'window = "{window}"\n{threshold}\nmin_events = 1000000\n{scope}\n'
                )
                if not many:
                    return "[domains]\nmax_tracked = 2000\n[providers]\nenabled = true\n" + out[0]
    return "[domains]\nmax_tracked = 2000\n[providers]\nenabled = true\n" + "".join(out)


def run(many: bool) -> tuple[list[float], int]:
    """Evaluation times (seconds) over the ticks, and the steps of one evaluation."""
    config = parse_config(rules(many))
    pipeline = Pipeline(core_settings(config))
    cache = pipeline.ledger.providers
    assert cache is not None
    providers = ("google", "microsoft", "yahoo", "apple", "other")
    domains = [f"d{i}.example" for i in range(DOMAINS)]
    for i, domain in enumerate(domains):
        cache.remember(domain, providers[i % len(providers)], f.T0 + 86_400)
    evaluator = Evaluator(config.alerts, [spec.name for spec in pipeline.ledger.specs])
    rng = random.Random(1)
    times = []
    for tick in range(TICKS):
        now = f.T0 + tick * EVERY
        for j, domain in enumerate(domains):
            at = now - EVERY + j * EVERY / DOMAINS
            body = f.delay if rng.random() < 0.05 else f.delivery
            pipeline.feed(f.raw(body([f"u{tick}@{domain}"], at=at)), "q", now)
        start = time.perf_counter()
        evaluator.evaluate(pipeline.ledger, now)
        times.append(time.perf_counter() - start)
    steps = sum(len(states) for states in evaluator.states.values())
    return times[TICKS // 2 :], steps


def main(_: list[str] | None = None) -> None:
    many, steps = run(True)
    one, one_steps = run(False)
    median, base = statistics.median(many), statistics.median(one)
    p95 = sorted(many)[int(len(many) * 0.95)]
    print(f"{steps} (rule, label) states under 60 rules, {one_steps} under one")
    print(f"60 rules: median {median * 1000:.1f} ms, p95 {p95 * 1000:.1f} ms an evaluation")
    print(f"one rule: median {base * 1000:.1f} ms ({median / base:.1f}x for 60 rules)")
    print(f"{median / steps * 1e6:.2f} µs a step (60 rules), {base / one_steps * 1e6:.2f} (one)")


if __name__ == "__main__":
    main()
