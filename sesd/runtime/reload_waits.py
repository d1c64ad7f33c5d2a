"""What waits for a restart once a reload or a refresh is in force
(``sesd_config_restart_pending``, the status page, `sesd reload`)."""

from __future__ import annotations

from typing import Final

from sesd.metrics.registry import Metrics

__all__ = ["PART_WAY", "UNDONE", "Waits"]

#: What waits for a restart after a reload that faulted part way: all of it,
PART_WAY: Final = "all of it: a reload failed part way"
#: or, the fault in a step after its switch, only what it left undone: its config runs.
UNDONE: Final = "what a reload that failed part way left undone after its switch"


class Waits:
    """The config file's settings as its last reload left them, those the last refresh
    found besides, and what the files said as last read (the web configuration's
    settings, [aws] keys rotated in their files). A refresh reads web.yml and the
    Secrets, not the config file: TLS turned on there waits as it would after a SIGHUP,
    and a renewed certificate read well must not hide a listen address still waiting."""

    def __init__(self, metrics: Metrics) -> None:
        self._metrics = metrics
        self._file_waits: list[str] = []
        self._refresh_waits: list[str] = []
        self._read_waits: list[str] = []
        self._part_way: str | None = None

    def waiting(self, file: list[str], read: list[str], *, whole: bool) -> None:
        """What waits for a restart once a read is in force: the config file's settings
        and what its files said (``read``). A reload compares the file and the files it
        names with what runs, so its settings replace all those said before. A refresh
        reads the config in force again, whose restart-only settings are those that run:
        it finds none the last reload left, which stay said. Those it finds itself (it
        logged them) replace what the last refresh found, and every read of the files
        replaces what they said: a file put back as it runs leaves none waiting."""
        if whole:
            self._file_waits, self._refresh_waits = file, []
        else:
            self._refresh_waits = [k for k in file if k not in self._file_waits]
        self._read_waits = read
        self._said()

    def part_way(self, *, whole: bool = False) -> None:
        """A reload faulted once its config was switched: all of it waits for a restart,
        or what it left undone (``whole``: its config in force whole), named first (the
        list is cut for the page and `sesd reload`)."""
        self._part_way = UNDONE if whole else PART_WAY
        self._said()

    def _said(self) -> None:
        waits = [self._part_way] if self._part_way else []
        waits += self._file_waits + self._refresh_waits + self._read_waits
        self._metrics.waiting_for_restart(list(dict.fromkeys(waits)))
