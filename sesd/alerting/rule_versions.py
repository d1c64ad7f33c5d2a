"""Rules as a change of rules left them, by name, while resolves made under them may
not be delivered yet (the runtime forgets those delivered): a removed one, or the one
before of a rule kept with other sinks, labels or severity. A stop saves what is
unsent of them, so the restart resolves the alerts again where they were sent
(sesd.runtime.state, sesd.alerting.retiring)."""

from __future__ import annotations

from collections.abc import Collection, Mapping, Sequence

from sesd.alerting.changes import moved
from sesd.config import RuleConfig

__all__ = ["RuleVersions"]


class RuleVersions(dict[str, RuleConfig]):
    """By name, the rule as the last change of rules that moved it left it."""

    def reloaded(self, old: Mapping[str, RuleConfig], new: Sequence[RuleConfig]) -> None:
        """Rules go from ``old`` to ``new``: a removed rule, and one that moved, is
        kept as it was; one kept as it was is forgotten."""
        self.update(old)
        for rule in new:
            if not moved(old.get(rule.name), rule):
                self.pop(rule.name, None)

    def restored(self, rule: RuleConfig) -> None:
        """``rule``, as a state file kept it with the resolves owed under it."""
        self.setdefault(rule.name, rule)

    def keep(self, names: Collection[str]) -> None:
        """Forget the rules no undelivered alert is of (``names``: those some is)."""
        for name in [name for name in self if name not in names]:
            del self[name]
