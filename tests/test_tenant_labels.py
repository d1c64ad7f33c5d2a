"""Tenants whose SES names are spelled as sesd's own tenant labels: ``unknown`` (mail no
tenant could be told for) and ``other`` (tenants past ``max_tracked``). Each is
labelled quoted, ``'unknown'``, ``'other'`` (a quote is in no name SES gives), in every
family and alert that names a tenant, so neither merges with sesd's own label."""

from __future__ import annotations

import itertools
from fnmatch import fnmatchcase

from hypothesis import given, settings
from hypothesis import strategies as st

from sesd.alerting.evaluator import Evaluator
from sesd.alerting.rules import Transition
from sesd.config import core_settings, parse_config
from sesd.core.pipeline import Pipeline
from sesd.core.tenant_map import NOT_NAMES, glob_takes_a_tenant, valid_tenant
from sesd.metrics.exposition import render
from sesd.metrics.registry import Metrics
from sesd.status.scopes import tenant_rows
from tests.test_tenants import (
    DELIVERY,
    NOW,
    PAUSED_RULE,
    REGION,
    TENANTS,
    _delay_rule,
    _event,
    _status_event,
)


def test_tenants_named_unknown_or_other_are_told_from_sesds_own_labels() -> None:
    """Mail of the tenants SES names ``other`` and ``unknown``, mail naming no tenant,
    and mail of tenants past ``max_tracked`` (4): each counts under a label of its own.
    SES pausing the tenant ``other`` is exported and paged under the same label as its
    mail, and a restart keeps those labels."""
    config = parse_config(TENANTS + "max_tracked = 4\n" + PAUSED_RULE)
    pipeline = Pipeline(core_settings(config))
    sent = [("other", 1), ("unknown", 2), ("", 4), ("acme", 8), ("globex", 16)]
    for i, (tenant, recipients) in enumerate(sent):
        tags = {"tenant": [tenant]} if tenant else {}
        for k in range(recipients):
            pipeline.feed(_event("delivery", f"u{i}-{k}@x.example", tags=tags), "q", NOW)
    scope = pipeline.ledger.by_tenant
    assert scope is not None
    counted = {label: counts[DELIVERY] for label, counts in scope.recipients.items()}
    assert counted == {"'other'": 1, "'unknown'": 2, "unknown": 4, "acme": 8, "other": 16}

    pipeline.feed(_status_event("other", "DISABLED"), "q", NOW)
    text = render(
        Metrics(pipeline.ledger, ["q"], lambda: NOW, tenants_polled=True).registry.collect()
    )
    paused = f'region="{REGION}",status="DISABLED",tenant="\'other\'"}} 1.0'
    assert paused in text.decode()
    assert 'status="DISABLED",tenant="other"} 1.0' not in text.decode()
    evaluator = Evaluator(config.alerts, [s.name for s in pipeline.ledger.specs])
    (fired,) = evaluator.evaluate(pipeline.ledger, NOW + 60)
    assert (fired.kind, fired.domain) == (Transition.FIRING, "'other'")
    assert fired.notes[0].startswith(f"SES paused tenant other in {REGION}")  # SES's name
    # The status page's row of the tenant, found by the label its mail and alert have.
    assert [row.tenant for row in tenant_rows(pipeline.ledger, "'other'")] == ["'other'"]
    assert tenant_rows(pipeline.ledger, "other") == []

    restarted = Pipeline(core_settings(config))
    restarted.ledger.restore(pipeline.ledger.snapshot(NOW), NOW)
    assert restarted.ledger.by_tenant is not None
    assert set(restarted.ledger.by_tenant.windows) == set(scope.windows)


def test_a_rule_naming_other_quoted_watches_the_tenant_ses_names_other() -> None:
    """A delay rule on ``tenants = ["'other'"]``: the tenant SES names ``other`` has half
    its mail delayed, and the rule fires for it; mail of tenants past the cap (sesd's
    ``other``) is not its."""
    pipeline, evaluator = _delay_rule("other-tenant", "[\"'other'\"]")
    for k in range(10):
        tags = {"tenant": ["other"]}
        kind = "delay" if k % 2 else "delivery"
        pipeline.feed(_event(kind, f"u{k}@x.example", tags=tags), "q", NOW)
    fired = evaluator.evaluate(pipeline.ledger, NOW + 1)
    assert [(a.kind, a.domain) for a in fired] == [(Transition.FIRING, "'other'")]


def test_a_rule_on_every_tenant_watches_a_tenant_ses_names_none() -> None:
    """A tenant SES names ``none`` is a tenant like any other: a rule on every tenant
    fires for its delays. (Of providers, ``none`` is the domains without mail, which a
    rule on every provider leaves out.)"""
    pipeline, evaluator = _delay_rule("every-tenant", '["*"]')
    for k in range(10):
        kind = "delay" if k % 2 else "delivery"
        pipeline.feed(_event(kind, f"u{k}@x.example", tags={"tenant": ["none"]}), "q", NOW)
    fired = evaluator.evaluate(pipeline.ledger, NOW + 1)
    assert [(a.kind, a.domain) for a in fired] == [(Transition.FIRING, "none")]


#: Enough names to hold a match of any glob below when one exists: every name of up to
#: five characters drawn from those the globs use (a set or ``?`` finds one of them),
#: and sesd's own labels.
_GLOB_CHARACTERS = "ab.-*?[]!z "
_SHORT_NAMES = [
    *(
        "".join(chars)
        for n in range(1, 6)
        for chars in itertools.product("ab-z.", repeat=n)
        if valid_tenant("".join(chars))
    ),
    *NOT_NAMES,
]


@settings(max_examples=300, deadline=None, derandomize=True)
@given(st.text(_GLOB_CHARACTERS, min_size=1, max_size=5))
def test_a_tenant_glob_is_taken_when_some_tenant_label_matches_it(glob: str) -> None:
    """What check-config asks of a rule's tenant glob agrees with trying it on every
    label it could take: it matches some name SES allows, or one of sesd's own."""
    matched = any(fnmatchcase(name, glob) for name in _SHORT_NAMES)
    assert glob_takes_a_tenant(glob) == matched
