"""A real DNS server on loopback (dnslib's, over UDP) that a test scripts: MX, A and
AAAA records with their TTLs, CNAMEs, NXDOMAIN, SERVFAIL (for a name, or one type of
it), and names it never answers (until the test ends). It records every query it
gets, with when it got it."""

from __future__ import annotations

import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from typing import Any

import msgspec
from dnslib import AAAA, CNAME, MX, QTYPE, RCODE, RR, A, DNSLabel  # type: ignore[import-untyped]
from dnslib.server import BaseResolver, DNSLogger, DNSServer  # type: ignore[import-untyped]

from sesd.commands.demo.localsqs import free_port
from sesd.config import Config

__all__ = ["Zone", "dns_server", "hermetic", "hermetic_text", "shared_nameserver"]

_QUIET = DNSLogger("-request,-reply,-truncated,-error,-recv,-send,-data")


@dataclass
class Zone(BaseResolver):  # type: ignore[misc]
    """What the server answers."""

    #: name -> (preference, host): a host is a name, or its labels (a label may hold a
    #: dot: ("x.google", "com") is two labels, not three).
    mx: dict[str, list[tuple[int, str | tuple[str, ...]]]] = field(default_factory=dict)
    a: dict[str, str] = field(default_factory=dict)
    aaaa: dict[str, str] = field(default_factory=dict)
    #: name -> the name it is an alias of (answered with the target's records).
    cname: dict[str, str] = field(default_factory=dict)
    ttl: dict[str, int] = field(default_factory=dict)
    nxdomain: set[str] = field(default_factory=set)
    servfail: set[str] = field(default_factory=set)
    #: (name, type) answered SERVFAIL, the name's other types answered as usual.
    servfail_type: set[tuple[str, str]] = field(default_factory=set)
    silent: set[str] = field(default_factory=set)
    queries: list[tuple[str, str, float]] = field(default_factory=list)
    release: threading.Event = field(default_factory=threading.Event)

    def resolve(self, request: Any, handler: Any) -> Any:
        name = str(request.q.qname).rstrip(".").lower()
        qtype = QTYPE[request.q.qtype]
        self.queries.append((name, qtype, time.monotonic()))
        if name in self.silent:
            self.release.wait()  # answers only once the test is over
        reply = request.reply()
        ttl = self.ttl.get(name, 3600)
        target = self.cname.get(name)
        if target is not None:
            # As a recursive resolver answers an alias: the CNAME, then the target's.
            reply.add_answer(RR(name, QTYPE.CNAME, rdata=CNAME(target), ttl=ttl))
            name, ttl = target, self.ttl.get(target, 3600)
        if name in self.servfail or (name, qtype) in self.servfail_type:
            reply.header.rcode = RCODE.SERVFAIL
        elif name in self.nxdomain:
            reply.header.rcode = RCODE.NXDOMAIN
        elif qtype == "MX":
            for preference, host in self.mx.get(name, []):
                exchange = host if isinstance(host, str) else DNSLabel([*map(str.encode, host)])
                reply.add_answer(RR(name, QTYPE.MX, rdata=MX(exchange, preference), ttl=ttl))
        elif qtype == "A" and name in self.a:
            reply.add_answer(RR(name, QTYPE.A, rdata=A(self.a[name]), ttl=ttl))
        elif qtype == "AAAA" and name in self.aaaa:
            reply.add_answer(RR(name, QTYPE.AAAA, rdata=AAAA(self.aaaa[name]), ttl=ttl))
        return reply

    def asked(self, name: str) -> int:
        """How many queries named ``name``."""
        return sum(1 for q, _, _ in self.queries if q == name)


@contextmanager
def dns_server(zone: Zone, address: str = "127.0.0.1", port: int = 0) -> Iterator[str]:
    """Serve ``zone`` on ``address`` and ``port`` (a free loopback port unless given;
    53, what resolv.conf's servers listen on, needs root); yields ``"ADDRESS:PORT"``."""
    port = port or free_port()
    server = DNSServer(
        zone,
        address=address,
        port=port,
        logger=_QUIET,
    )
    closed = _said_until_closed(server)
    server.start_thread()
    try:
        yield f"{address}:{port}"
    finally:
        closed.set()
        zone.release.set()
        server.stop()
        server.server.server_close()


def _said_until_closed(server: Any) -> threading.Event:
    """An event that, once set, keeps quiet the error of an answer sent after the test
    is done with the server: a query the zone held (``release``) is answered by its own
    thread as the socket closes under it, and socketserver would print that
    ``Bad file descriptor`` into the test run's output. Errors before it are said."""
    closed = threading.Event()
    said = server.server.handle_error

    def handle_error(request: Any, client_address: Any) -> None:
        if not closed.is_set():
            said(request, client_address)

    server.server.handle_error = handle_error
    return closed


_SHARED: list[str] = []


def shared_nameserver() -> str:
    """``"127.0.0.1:PORT"`` of one server for the whole test run, started on first use:
    what every daemon a test starts is pointed at, so no test asks the machine's own
    resolvers. It knows a few company domains (below); any other name has no records."""
    if not _SHARED:
        zone = Zone(
            mx={
                "corp.example": [(10, "corp-example.mail.protection.outlook.com")],
                "startup.example": [(1, "aspmx.l.google.com")],
                "bank.example": [(10, "us-smtp-inbound-1.mimecast.com")],
            }
        )
        port = free_port()
        server = DNSServer(zone, address="127.0.0.1", port=port, logger=_QUIET)
        server.start_thread()  # a daemon thread: it ends with the test run
        _SHARED.append(f"127.0.0.1:{port}")
    return _SHARED[0]


def hermetic_text(text: str) -> str:
    """A config file's text that keeps sesd on loopback: ``[providers] nameservers`` set
    to the shared server and ``[account_health]`` off (it would poll AWS's own
    endpoints), unless the text has those tables itself."""
    if "[providers]" not in text:
        text += f'\n[providers]\nnameservers = ["{shared_nameserver()}"]\n'
    if "[account_health]" not in text:
        text += "\n[account_health]\nenabled = false\n"
    return text


def hermetic(config: Config) -> Config:
    """``config`` with its resolvers set to the shared server (unless it names its own),
    account health off (unless it points the polls at local endpoints) and a free port
    for the default one."""
    providers = config.providers
    if providers.enabled and not providers.nameservers:
        pointed = msgspec.structs.replace(providers, nameservers=[shared_nameserver()])
        config = msgspec.structs.replace(config, providers=pointed)
    health = config.account_health
    if health.enabled and health.ses_endpoint_url is None:
        off = msgspec.structs.replace(health, enabled=False)
        config = msgspec.structs.replace(config, account_health=off)
    if config.http.listen == "127.0.0.1:9585":
        # The default port: two tests in parallel workers would both want it.
        free = msgspec.structs.replace(config.http, listen="127.0.0.1:0")
        config = msgspec.structs.replace(config, http=free)
    return config
