"""A tiny DNS server on loopback for the demo: the MX records of its domains, so the
demo attributes providers without asking the machine's resolvers (or the network)."""

from __future__ import annotations

from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from typing import Final

import anyio
import dns.exception
import dns.message
import dns.rcode
import dns.rdataclass
import dns.rdatatype
import dns.rrset
from anyio.abc import SocketAttribute

__all__ = ["DEMO_MX", "local_dns"]

#: Domain -> its MX hosts (a lone "." is a null MX); any other name has no records.
DEMO_MX: Final = {
    "contoso.example": ("contoso-example.mail.protection.outlook.com",),
    "initech.example": ("aspmx.l.google.com",),
    "fabrikam.example": ("eu-smtp-inbound-1.mimecast.com",),
    "comcast.net": ("mx1.comcast.net",),
    "gmx.de": ("mx00.emig.gmx.net",),
    "web.de": ("mx-ha03.web.de",),
    "orange.fr": ("smtp-in.orange.fr",),
    "example.org": (".",),
}


def _answer(wire: bytes) -> bytes | None:
    try:
        query = dns.message.from_wire(wire)
    except dns.exception.DNSException:
        return None
    response = dns.message.make_response(query)
    question = query.question[0] if query.question else None
    if question is not None and question.rdtype == dns.rdatatype.MX:
        name = question.name.to_text(omit_final_dot=True).lower()
        hosts = DEMO_MX.get(name, ())
        if hosts:
            rdatas = [
                f"{0 if host == '.' else 10 * (i + 1)} {host if host == '.' else host + '.'}"
                for i, host in enumerate(hosts)
            ]
            response.answer.append(
                dns.rrset.from_text_list(question.name, 3600, dns.rdataclass.IN, "MX", rdatas)
            )
    return response.to_wire()


@asynccontextmanager
async def local_dns() -> AsyncIterator[str]:
    """Serve :data:`DEMO_MX` over UDP on a free loopback port; yields ``"HOST:PORT"``."""
    async with await anyio.create_udp_socket(local_host="127.0.0.1") as sock:

        async def serve() -> None:
            async for wire, (host, port) in sock:
                reply = _answer(wire)
                if reply is not None:
                    await sock.sendto(reply, host, port)

        async with anyio.create_task_group() as tg:
            tg.start_soon(serve)
            port = sock.extra(SocketAttribute.local_port)  # noqa: S610 (anyio, not Django)
            yield f"127.0.0.1:{port}"
            tg.cancel_scope.cancel()
