"""What ``sesd status`` gets through the port's lock with (``[http] web_config``): basic
auth with the password from the environment, a CA of the user's, a client certificate;
each option that cannot work said in one line before any request."""

from __future__ import annotations

import os
import ssl
from dataclasses import dataclass, field
from typing import Final

import aiohttp

from sesd.config import ConfigError

__all__ = ["PASSWORD_VARIABLE", "Access", "access"]

#: Where ``--user``'s password is read from.
PASSWORD_VARIABLE: Final = "SESD_STATUS_PASSWORD"  # noqa: S105 - a name, not a password


@dataclass(frozen=True, slots=True)
class Access:
    """How to get through the port's lock: basic auth, and the CA to trust."""

    #: The Authorization header, or none.
    headers: dict[str, str] = field(default_factory=dict)
    tls: ssl.SSLContext | None = None
    #: Whether ``tls`` presents a client certificate.
    certified: bool = False


def access(
    user: str | None, cacert: str | None, cert: str | None = None, key: str | None = None
) -> Access:
    """The credentials and trust the options ask for (``cert``, ``key``: a client
    certificate and its key, for a port that asks for one); ConfigError saying what is
    missing."""
    headers = {}
    if user is not None:
        password = os.environ.get(PASSWORD_VARIABLE)
        if password is None:
            raise ConfigError(f"--user {user}: set {PASSWORD_VARIABLE} to its password")
        if ":" in user:
            raise ConfigError(f"--user {user}: a user name has no ':'")
        headers["Authorization"] = aiohttp.encode_basic_auth(user, password)
    tls = None
    if cacert is not None:
        try:
            tls = ssl.create_default_context(cafile=cacert)
        except (OSError, ssl.SSLError) as exc:
            raise ConfigError(f"--cacert {cacert}: {exc}") from None
    if key is not None and cert is None:
        raise ConfigError(f"--key {key}: give the certificate it is the key of with --cert")
    if cert is not None:
        tls = tls or ssl.create_default_context()
        try:
            tls.load_cert_chain(cert, key)
        except (OSError, ssl.SSLError) as exc:  # a file not there, or not the cert's key
            raise ConfigError(f"--cert {cert}: {exc}") from None
    return Access(headers, tls, certified=cert is not None)
