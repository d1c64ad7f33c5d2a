"""The versions of a rule kept while resolves made under them may be undelivered, one
method at a time: which versions a change of rules keeps, in what order, and which one
an alert is told it was made under (its thresholds are the ones it was paged with)."""

from __future__ import annotations

import dataclasses

from sesd.alerting.alert import Alert
from sesd.alerting.rule_versions import RuleVersions
from sesd.alerting.rules import Transition
from sesd.config import RuleConfig, parse_config
from tests.test_rule_changes import SINKS, rule
from tests.test_sinks import alert as sample_alert


def version(above: str = "0.2", sinks: str = '"pager"', name: str = "delays") -> RuleConfig:
    text = rule(name, f"sinks = [{sinks}]\n").replace("0.2", above)
    (made,) = parse_config(SINKS + text).alerts.rules
    return made


def fired(under: RuleConfig) -> Alert:
    """An alert as ``under`` makes it."""
    return dataclasses.replace(
        sample_alert(kind=Transition.RESOLVED),
        rule=under.name,
        metric=under.metric,
        window=under.window,
        threshold=under.threshold,
        clear_threshold=under.clear_threshold,
        rising=under.rising,
    )


def test_a_change_keeps_a_removed_rule_a_moved_one_and_a_retuned_one_not_one_kept() -> None:
    """A resolve queued before a change of thresholds alone tells those it was paged
    at: the retuned rule's old version is kept, as a removed and a moved one are; a
    rule the change left as it was is not."""
    removed, moved, retuned = version(name="gone"), version(name="moved"), version()
    same = version(name="same")
    versions = RuleVersions()
    later = [version(sinks='"chat"', name="moved"), version("0.3"), same]
    old = {"gone": removed, "moved": moved, "delays": retuned, "same": same}
    versions.reloaded(old, later)
    assert versions == {"gone": [removed], "moved": [moved], "delays": [retuned]}


def test_a_version_kept_again_is_the_last_once() -> None:
    """Moved to the chat and back, then to the chat again: the pager version is the
    last the changes left, kept once."""
    pager, chat = version(), version(sinks='"chat"')
    versions = RuleVersions()
    versions.reloaded({"delays": pager}, [chat])
    versions.reloaded({"delays": chat}, [pager])
    assert versions["delays"] == [pager, chat]
    versions.reloaded({"delays": pager}, [chat])
    assert versions["delays"] == [chat, pager]
    assert versions.last("delays") == pager


def test_an_older_version_goes_first_once_under_its_own_name() -> None:
    pager, chat, other = version(), version(sinks='"chat"'), version(name="other")
    versions = RuleVersions()
    versions.reloaded({"delays": chat}, [])
    versions.older(pager)
    versions.older(pager)
    versions.older(other)
    assert versions == {"delays": [pager, chat], "other": [other]}
    versions.older(chat)
    assert versions["delays"] == [pager, chat]


def test_keep_forgets_the_rules_not_named() -> None:
    versions = RuleVersions()
    versions.older(version())
    versions.older(version(name="other"))
    versions.keep([dataclasses.replace(sample_alert(), rule="other")])
    assert list(versions) == ["other"]


def test_keep_forgets_the_versions_no_undelivered_resolve_reads_as_but_the_last() -> None:
    """Of a rule some alert is undelivered of: a version a resolve reads as stays, one
    a firing alone reads as goes (its resolve is made under the rule in force, or a
    change of rules gives back the version it fired under), and the last stays."""
    low, mid, high, last = version("0.1"), version(), version("0.3"), version("0.4")
    versions = RuleVersions()
    for each in (low, mid, high, last):
        versions.reloaded({"delays": each}, [])
    firing = dataclasses.replace(fired(low), kind=Transition.FIRING)
    versions.keep([fired(mid), firing])
    assert versions["delays"] == [mid, last]
    versions.keep([firing])
    assert versions["delays"] == [last]


def test_last_is_none_for_a_rule_without_versions_else_the_newest() -> None:
    versions = RuleVersions()
    assert versions.last("delays") is None
    versions["delays"] = []
    assert versions.last("delays") is None
    versions.older(one := version())
    assert versions.last("delays") is one


def test_an_alert_is_told_under_the_rule_it_reads_as() -> None:
    """In force and making the alert again, the rule in force wins over a version that
    reads the same; not making it, the newest version reading as the alert wins;
    neither reading, the rule in force where it makes the alert, else the last
    version."""
    now, was = version("0.3", '"pager", "chat"'), version(sinks='"chat"')
    versions = RuleVersions()
    versions.older(was)
    same = version("0.3", '"chat"')
    versions.older(same)
    assert versions.under(fired(now), now, made=True) is now
    assert versions.under(fired(now), now, made=False) is same
    assert versions.under(fired(was), now, made=True) is was
    stray = fired(version("0.5"))
    assert versions.under(stray, now, made=True) is now
    assert versions.under(stray, now, made=False) is was
    alone = RuleVersions()
    alone.older(was)
    assert alone.under(stray, now, made=False) is was
    assert RuleVersions().under(stray, now, made=False) is now
