"""systemd's notify protocol: READY=1, WATCHDOG=1, STATUS=, STOPPING=1 over
``NOTIFY_SOCKET``.

One datagram per message to the socket systemd names (a leading ``@`` means
the abstract namespace). Without ``NOTIFY_SOCKET`` every call does nothing, so
the same code runs under systemd, in a container, or in a terminal.
"""

from __future__ import annotations

import os
import socket
from collections.abc import Callable, Mapping

import anyio

from sesd.io.logs import get_logger

__all__ = ["STATUS_EVERY", "Notifier", "tell_systemd"]


class Notifier:
    """Sends sd_notify messages; a no-op outside systemd."""

    def __init__(self, environ: Mapping[str, str] | None = None) -> None:
        env = os.environ if environ is None else environ
        path = env.get("NOTIFY_SOCKET", "")
        self._address = "\0" + path[1:] if path.startswith("@") else path
        self._socket: socket.socket | None = None
        if self._address:
            self._socket = socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM | socket.SOCK_CLOEXEC)
        self.watchdog_interval = _watchdog_interval(env)

    @property
    def enabled(self) -> bool:
        """True under systemd (a notify socket was given)."""
        return self._socket is not None

    def notify(self, *fields: str) -> bool:
        """Send ``KEY=VALUE`` fields in one message; False if it could not be sent."""
        if self._socket is None:
            return False
        try:
            self._socket.sendto("\n".join(fields).encode(), self._address)
        except OSError:
            return False
        return True

    def close(self) -> None:
        """Release the socket."""
        if self._socket is not None:
            self._socket.close()
            self._socket = None


def _watchdog_interval(env: Mapping[str, str]) -> float | None:
    """Half of WatchdogSec, as systemd recommends; None when the watchdog is off or not ours."""
    usec = env.get("WATCHDOG_USEC", "")
    pid = env.get("WATCHDOG_PID", "")
    if not usec.isdigit() or int(usec) == 0:
        return None
    if pid and pid != str(os.getpid()):
        return None
    return int(usec) / 1_000_000 / 2


#: How often STATUS= is brought up to date when systemd wants no watchdog pings.
STATUS_EVERY = 5.0


async def tell_systemd(notifier: Notifier, status: Callable[[], str]) -> None:
    """READY=1 as soon as sesd runs (config loaded, HTTP bound): queue health is for
    /readyz and STATUS=, not for systemd, which would otherwise restart sesd over an
    SQS or IAM problem at boot. Then WATCHDOG=1 pings, and STATUS= when it changes."""
    said = status()
    notifier.notify("READY=1", f"STATUS={said}")
    get_logger().info("sesd.systemd.ready")
    interval = notifier.watchdog_interval
    while True:
        # The ping runs on the event loop, so a stuck loop stops it and systemd
        # restarts sesd after WatchdogSec.
        await anyio.sleep(interval if interval is not None else STATUS_EVERY)
        messages = ["WATCHDOG=1"] if interval is not None else []
        now = status()
        if now != said:
            said = now
            messages.append(f"STATUS={said}")
        if messages:
            notifier.notify(*messages)
