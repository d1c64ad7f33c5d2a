"""A rule's domain and provider globs: one that can take no label the rule's scope
has (an address or a URL pasted in as a glob, a space, a character no domain has, a
provider sesd does not know) would watch nothing, or, left out, leave out nothing
(the rule pages on what was meant to be left out), so the config refuses it, naming
the key; one that can take a label (a domain in its normal form, a group's name,
``other``) is taken."""

from __future__ import annotations

from sesd.alerting.evaluator import Evaluator
from sesd.alerting.rules import Transition
from sesd.config import core_settings, parse_config
from sesd.core.pipeline import Pipeline
from tests.test_tenants import NOW, _event

_RULE = '[[alerts.rules]]\nname = "r"\nmetric = "delay_ratio"\nwindow = "5m"\nabove = 0.1\n'
_GROUPS = '[domains]\ngroups = {"Team EU" = ["shop.example"], microsoft = ["outlook.com"]}\n'
#: A second rule, leaving out what the first watches.
_SECOND = _RULE.replace('"r"', '"s"')
_PROVIDERS = '[providers]\nenabled = true\nmx = {acme = ["mx.acme.example"]}\n'


def test_a_group_with_a_space_in_its_name_can_be_named_by_a_rule() -> None:
    """A group's name may hold a space (or be in any script): a rule names it as
    written, as its label is, and fires on its members' delays."""
    config = parse_config(f'{_GROUPS}{_RULE}domains = ["Team EU"]\n')
    pipeline = Pipeline(core_settings(config))
    evaluator = Evaluator(config.alerts, [s.name for s in pipeline.ledger.specs])
    for k in range(4):
        kind = "delay" if k % 2 else "delivery"
        pipeline.feed(_event(kind, f"u{k}@shop.example"), "q", NOW)
    fired = evaluator.evaluate(pipeline.ledger, NOW + 1)
    assert [(a.kind, a.domain) for a in fired] == [(Transition.FIRING, "Team EU")]
