"""The config's warnings on the daemon's host, as check-config, a start and a reload
say them: the config's own and what this host adds (how many are said at once is
:mod:`sesd.config.warned`)."""

from __future__ import annotations

from typing import TYPE_CHECKING

from sesd.runtime.state_path import silences_unwritable

if TYPE_CHECKING:
    from sesd.config import Config

__all__ = ["warnings_here"]


def warnings_here(config: Config) -> list[str]:
    """The warnings of this host (the silences file's directory missing), then those of
    ``config`` (:meth:`Config.warnings`): first, as one of a kind, before what may be
    one of a thousand entries' and go unshown. What a start, a reload and check-config
    on the daemon's host warn of alike (a state file that could never be saved is no
    warning to a start: it refuses to)."""
    unwritable = silences_unwritable(config.alerts.silences_path)
    return [*([unwritable] if unwritable else []), *config.warnings()]
