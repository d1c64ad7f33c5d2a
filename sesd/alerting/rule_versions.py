"""Rules as changes of rules left them, by name, while resolves made under them may
not be delivered yet (the runtime forgets those delivered): a removed one, or the one
before of a rule kept with other sinks, labels, severity or thresholds. A stop saves
what is unsent of them under the version each was made under, so the restart
resolves the alerts again where they were sent, telling the rule they fired under.

Every version an undelivered resolve reads as is kept, not the last change's alone: a
resolve owed to a sink a first reload dropped, still undelivered at a second (one
that leaves the rule as it is, or moves it again), was saved under the rule in
force, and the restart told PagerDuty the alert ended under 30% where its firing had
said 20%. A version no such resolve reads as goes (but the last), so reloads through
an outage keep no more versions than resolves wait."""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence

from sesd.alerting.alert import Alert, link
from sesd.alerting.rules import Transition
from sesd.config import RuleConfig

__all__ = ["RuleVersions"]


class RuleVersions(dict[str, list[RuleConfig]]):
    """By name, the versions of a rule changes of rules left, oldest first."""

    def reloaded(self, old: Mapping[str, RuleConfig], new: Sequence[RuleConfig]) -> None:
        """Rules go from ``old`` to ``new``: a removed rule, and one changed, is kept as
        it was, beside the versions kept before. Not only one that moved: a resolve
        queued before a change of thresholds alone was saved under the rule in force,
        and the restart told the sink the alert ended under 30% where it was paged at
        20%."""
        kept = {rule.name: rule for rule in new}
        for name, rule in old.items():
            if kept.get(name) != rule:
                versions = self.setdefault(name, [])
                if rule in versions:
                    versions.remove(rule)
                versions.append(rule)

    def older(self, rule: RuleConfig) -> None:
        """``rule``, older than the versions changes of rules left, unless kept: as a
        state file kept it with the resolves owed under it, or as a resolve owed to a
        sink tells it (the thresholds its alert fired under)."""
        versions = self.setdefault(rule.name, [])
        if rule not in versions:
            versions.insert(0, rule)

    def keep(self, unsent: Iterable[Alert]) -> None:
        """Forget the rules no alert ``unsent`` (undelivered) is of, and of the others
        the versions no resolve among them reads as, but the last (a removed rule's
        alerts are sorted under it). Every version was kept while any alert of the rule
        waited: reloads retuning a rule through a long outage of its sink (a tuning
        job's, each minute) kept one per reload, and each save read every one of them
        for each resolve owed."""
        resolves: dict[str, list[Alert]] = {}
        for alert in unsent:
            told = resolves.setdefault(alert.rule, [])
            if alert.kind is Transition.RESOLVED:
                told.append(alert)
        for name in [name for name in self if name not in resolves]:
            del self[name]
        for name, versions in self.items():
            told = resolves[name]
            read = [rule for rule in versions[:-1] if any(_reads_as(rule, a) for a in told)]
            versions[:-1] = read

    def last(self, name: str) -> RuleConfig | None:
        """The version of ``name`` the last change of rules left."""
        versions = self.get(name)
        return versions[-1] if versions else None

    def under(self, alert: Alert, rule: RuleConfig, made: bool) -> RuleConfig:
        """The rule ``alert`` was made under: ``rule`` (in force, or a removed one's last
        version) where it makes the alert again (``made``) as the alert reads, else the
        newest version that reads as it does; failing both, ``rule`` where it makes it
        again, else the last version."""
        versions = self.get(alert.rule, [])
        tried = [*([rule] if made else []), *reversed(versions)]
        return next(
            (each for each in tried if _reads_as(each, alert)),
            rule if made or not versions else versions[-1],
        )


def _reads_as(rule: RuleConfig, alert: Alert) -> bool:
    """Whether ``rule`` makes ``alert`` as it reads: what it measures, against what, and
    its runbook (its labels and severity are the alert's wherever it is saved)."""
    told = (alert.metric, alert.window, alert.threshold, alert.clear_threshold, alert.rising)
    made = (rule.metric, rule.window, rule.threshold, rule.clear_threshold, rule.rising)
    return made == told and link(rule.runbook_url, rule, alert.domain) == alert.runbook_url
