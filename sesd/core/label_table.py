"""Bounded label values: :class:`LabelTable` maps values chosen by strangers (recipient
domains in normal form, sesd.core.domains; tag values; tenants) to labels, at most
``max_tracked`` of them under their own name and the rest under ``other``, and
forgets those idle; the labels of ``[domains]`` (tracked domains, groups) always map.
"""

from __future__ import annotations

from collections.abc import Callable

from sesd.core.domains import OTHER, normalise_domain

__all__ = ["LabelTable", "domain_labels"]


class LabelTable:
    """Maps values (domains, tag values) to bounded label values.

    ``fixed`` maps a value to its label always (tracked domains, group members).
    Other values are admitted under their own name while fewer than
    ``max_tracked`` labels are in use, else counted under ``other``. A label not
    seen for ``idle_evict`` seconds is evicted; fixed labels never are.
    """

    __slots__ = (
        "_fixed",
        "_fixed_labels",
        "_groups",
        "_labels",
        "idle_evict",
        "last_seen",
        "max_tracked",
        "overflow",
    )

    def __init__(
        self, *, fixed: dict[str, str] | None = None, max_tracked: int, idle_evict: float
    ) -> None:
        self._fixed = dict(fixed or {})
        self._fixed_labels = frozenset(self._fixed.values())
        self._groups = _groups(self._fixed)
        self._labels: dict[str, str] = dict(self._fixed)
        #: label -> when it was last seen (:meth:`label`, :meth:`touch`). The pipeline
        #: writes it itself for a recipient whose label it already holds: a store,
        #: where touch() is a call (about 420 instructions an event).
        self.last_seen: dict[str, float] = {}
        self.max_tracked = max_tracked
        self.idle_evict = idle_evict
        #: How many values the cap counted under ``other`` (a tag's value SES could not
        #: have carried is there by its text, not the cap: not counted).
        self.overflow = 0

    def set_fixed(self, fixed: dict[str, str]) -> None:
        """Map values to labels always from now on (a reload changed the tracked domains
        or groups: :func:`domain_labels`); labels seen stay until idle."""
        for value in self._fixed:
            self._labels.pop(value, None)
        self._fixed = dict(fixed)
        self._fixed_labels = frozenset(self._fixed.values())
        self._groups = _groups(self._fixed)
        self._labels.update(self._fixed)

    def label(self, value: str, now: float) -> str:
        """The label for ``value``; admits it when there is room."""
        label = self._labels.get(value)
        if label is None:
            if len(self.last_seen) - (OTHER in self.last_seen) >= self.max_tracked:
                label = OTHER
                self.overflow += value != OTHER
            else:
                label = self._labels[value] = value
        self.last_seen[label] = now
        return label

    @property
    def fixed_labels(self) -> frozenset[str]:
        """The labels values always map to (tracked domains, groups, named tenants)."""
        return self._fixed_labels

    def label_of(self, value: str) -> str | None:
        """The label ``value`` counts under now (a group's for a member), None when it
        has none yet; a pure read (:meth:`label` admits)."""
        return self._labels.get(value)

    def single(self, label: str) -> bool:
        """Whether ``label`` is one value's own (a tracked or admitted domain), not a
        group's name nor ``other``: a group's members may have several providers."""
        return label != OTHER and label not in self._groups and self._labels.get(label) == label

    def touch(self, label: str, now: float) -> None:
        """``label`` (one :meth:`label` returned) was seen again at ``now``."""
        self.last_seen[label] = now

    def stepped(self, step: float) -> None:
        """The wall clock stepped by ``step`` seconds: when each label was last seen
        moves with it (idle for as long as before: sesd.core.ledger_steps), in place."""
        for label in self.last_seen:
            self.last_seen[label] += step

    def fixed(self, label: str) -> bool:
        """Whether ``label`` is one the table always maps to (a tracked domain, a group)."""
        return label in self._fixed_labels

    def holds(self, label: object) -> bool:
        """Whether ``label`` is in use (its windows belong to a label this table keeps)."""
        return label in self.last_seen

    def __len__(self) -> int:
        """How many labels other than ``other`` are in use."""
        return len(self.last_seen) - (OTHER in self.last_seen)

    def labels(self) -> list[str]:
        """Labels in use, ``other`` included once seen."""
        return list(self.last_seen)

    def evict_idle(
        self, now: float, busy: Callable[[str], bool] = lambda label: False
    ) -> list[str]:
        """Forget labels idle for ``idle_evict`` but those ``busy`` keeps (recipients
        still pending: their delays and alerts go on); returns them so their series go
        too."""
        cutoff = now - self.idle_evict
        gone = [
            label
            for label, seen in self.last_seen.items()
            if seen < cutoff
            and label not in self._fixed_labels
            and label != OTHER
            and not busy(label)
        ]
        for label in gone:
            del self.last_seen[label]
            if label not in self._fixed:  # a reload made it a group's member: it stays one
                self._labels.pop(label, None)
        return gone

    def drop(self, label: str) -> bool:
        """Forget ``label`` now, if in use and not fixed (a group a reload removed: no
        value maps to it any more); whether it was in use."""
        if label in self._fixed_labels or label not in self.last_seen:
            return False
        del self.last_seen[label]
        if label not in self._fixed:
            self._labels.pop(label, None)
        return True

    def snapshot(self) -> dict[str, float]:
        """Labels in use and when each was last seen."""
        return dict(self.last_seen)

    def restore(
        self, last_seen: dict[str, float], admits: Callable[[str], bool] = lambda label: True
    ) -> None:
        """Re-admit labels from a snapshot (fixed ones keep their members), each other
        one only if ``admits`` it (the rule a live value is held to: a file edited by
        hand, or one an older build wrote, is no stranger's text made a label) and
        while there is room."""
        for label, seen in last_seen.items():
            if label not in self._fixed_labels and label != OTHER:
                if len(self) >= self.max_tracked or not admits(label):
                    continue
                self._labels[label] = label
            self.last_seen[label] = max(seen, self.last_seen.get(label, seen))

    @classmethod
    def for_domains(
        cls, *, track: list[str], groups: dict[str, list[str]], max_tracked: int, idle_evict: float
    ) -> LabelTable:
        """The table for recipient domains, from ``[domains]``."""
        fixed = domain_labels(track, groups)
        return cls(fixed=fixed, max_tracked=max_tracked, idle_evict=idle_evict)


def _groups(fixed: dict[str, str]) -> frozenset[str]:
    """The labels of ``fixed`` that name a group (a label that values other than it take)."""
    return frozenset(label for value, label in fixed.items() if value != label)


def domain_labels(track: list[str], groups: dict[str, list[str]]) -> dict[str, str]:
    """The fixed labels of ``[domains]``: a tracked domain is its own label, a group's
    member is labelled with the group's name."""
    fixed: dict[str, str] = {}
    for domain in track:
        norm = normalise_domain(domain)
        if norm is not None:
            fixed[norm] = norm
    for name, members in groups.items():
        for domain in members:
            norm = normalise_domain(domain)
            if norm is not None:
                fixed[norm] = name
    return fixed
