"""What a reload changes in the running daemon once its config is in force, part by
part: nothing that can fail for the file's sake is left to here (it was done before the
switch), and nothing runs amid it."""

from __future__ import annotations

from typing import TYPE_CHECKING

from sesd.config import Config, core_settings
from sesd.io.logs import set_level
from sesd.runtime.aws import QueueClients
from sesd.runtime.reload_queues import requeue

if TYPE_CHECKING:
    from sesd.runtime.parts import Parts

__all__ = ["switch"]


def switch(
    daemon: Parts, old: Config, merged: Config, opened: QueueClients, steps: list[str]
) -> None:
    """Each part of ``daemon`` from ``old`` to ``merged`` (the config now in force), the
    added queues started with their clients ``opened``; each part named in ``steps`` as
    it begins, so that a fault says which were applied and which not."""
    steps.append("logging level")
    set_level(merged.logging.level)
    steps.append("alert evaluations settled")
    daemon.alerting.evaluator.settle()  # ends under the windows and rules it began with
    steps.append("pipeline")
    daemon.pipeline.reconfigure(core_settings(merged))
    steps.append("alert rules, sinks and silences")
    daemon.alerting.reconfigure(merged, files_read=True)
    steps.append("AWS accounts")
    if daemon.aws is not None:
        daemon.aws.reconfigure(merged)
    steps.append("account and tenant polls")
    for poller in (daemon.account_poller, daemon.tenant_poller):
        if poller is not None:
            # Queues and accounts a reload adds are watched from the next poll.
            poller.targets = merged.health_targets()
    steps.append("queues")
    requeue(daemon, old, merged, opened)
    steps.append("canary")
    # A stop begun meanwhile (while an added queue's clients were made) starts no
    # canary, as it starts no queue: a canary's first act is a SendEmail. One whose
    # section is as it was moves with its queue too (its account and region are the
    # queue's unless it names them): left sending where it did, its events would
    # go to a queue sesd may no longer read, and each canary go missing.
    changed = old.canary != merged.canary or (
        merged.canary is not None and old.canary_sender() != merged.canary_sender()
    )
    if changed and not daemon.stopping.is_set():
        daemon.restart_canary(merged)
