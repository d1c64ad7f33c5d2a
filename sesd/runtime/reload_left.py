"""What a failed reload leaves in force, as its log line (``kept``, ``hint``) says it,
and why each reload after one that faulted once its config was switched is refused.
Read alone in a journal, a line must not leave sesd seeming to run on no config, on
the defaults, or on a config it does not run."""

from __future__ import annotations

from typing import Final

__all__ = ["FIRST_AFTER", "KEPT", "NEITHER_WHOLE", "NEW_WHOLE", "REFUSED"]

#: What a failed reload leaves in force: the config that ran before it.
KEPT: Final = "running config"
#: What a reload that faulted amid the switch of its config leaves: a bug in sesd, the
#: new config in force in part, the old one in the rest. Said until a restart, with
#: what to do, in each reload's line (each is refused: it would be measured against a
#: config that does not run, and a reload of the same file would say nothing changed,
#: its added queues never started).
NEITHER_WHOLE: Final = {
    "kept": "neither config whole: the new one in part",
    "hint": "a fault in sesd, not in the file: restart sesd, which applies the config file "
    "whole (reloads are refused until then), and report this line with its traceback",
}
#: The first step after the switch: a fault from it on leaves the new config whole, not
#: that step (``at``) and those after it (the reload's metrics and line, the silences it
#: ended written, the files it read marked read for following, the clients it no longer
#: needs closed): said so, and held the same.
#: Said again in the line of each reload refused after it, which has no ``at`` and may
#: be of a file edited since: the words lean on neither.
FIRST_AFTER: Final = "reload metrics and log"
NEW_WHOLE: Final = {
    "kept": "the new config whole: steps after its switch left undone",
    "hint": "a fault in sesd, not in the file: the config as that reload read it is in "
    "force; restart sesd (reloads are refused until then), and report this line with its "
    "traceback",
}
#: Why each reload after one of them is refused (its config in force whole: True).
REFUSED: Final = {
    False: "sesd runs neither config whole, and a reload cannot tell what it would change",
    True: "its config is in force whole, but what it left undone waits for a restart",
}
