"""A DNS server for the attribution benchmark, in its own process so its CPU is not
counted: ``python -m bench.fake_dns PORT``; prints ``ready`` when listening.

``dN.example`` has one MX, by N modulo 4: Google, Microsoft, Mimecast, or a host
of its own (provider ``other``); other names have no records.
"""

from __future__ import annotations

import re
import sys
import threading
from typing import Any

from dnslib import MX, QTYPE, RR  # type: ignore[import-untyped]
from dnslib.server import BaseResolver, DNSLogger, DNSServer  # type: ignore[import-untyped]

_HOSTS = ("aspmx.l.google.com", "d.mail.protection.outlook.com", "eu-smtp-inbound-1.mimecast.com")
_NAME = re.compile(r"d(\d+)\.example")


class _Zone(BaseResolver):  # type: ignore[misc]
    def resolve(self, request: Any, handler: Any) -> Any:
        name = str(request.q.qname).rstrip(".").lower()
        reply = request.reply()
        found = _NAME.fullmatch(name)
        if found is not None and QTYPE[request.q.qtype] == "MX":
            n = int(found.group(1))
            host = _HOSTS[n % 4] if n % 4 < 3 else f"mx.{name}"
            reply.add_answer(RR(name, QTYPE.MX, rdata=MX(host, 10), ttl=86400))
        return reply


def main(port: int) -> None:
    """Serve until killed."""
    quiet = DNSLogger("-request,-reply,-truncated,-error,-recv,-send,-data")
    server = DNSServer(_Zone(), address="127.0.0.1", port=port, logger=quiet)
    server.start_thread()
    print("ready", flush=True)
    threading.Event().wait()


if __name__ == "__main__":
    main(int(sys.argv[1]))
