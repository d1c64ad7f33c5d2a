"""What ``sesd status`` gets through the port's lock with (``[http] web_config``): basic
auth with the password from the environment, a CA of the user's, a client certificate;
each option that cannot work said in one line before any request."""

from __future__ import annotations

import os
import re
import ssl
from dataclasses import dataclass, field
from typing import Final

import aiohttp

__all__ = ["PASSWORD_VARIABLE", "Access", "Refused", "access"]

#: Where ``--user``'s password is read from.
PASSWORD_VARIABLE: Final = "SESD_STATUS_PASSWORD"  # noqa: S105 - a name, not a password


class Refused(Exception):
    """An option that cannot work (a password not set, a certificate file without one),
    in one line naming it. Not a config's error: `sesd status` reads no config unless
    given one, and loads none of the config's modules for its own options."""


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
    certificate and its key, for a port that asks for one); :class:`Refused` saying what is
    missing."""
    headers = {}
    if user is not None:
        password = os.environ.get(PASSWORD_VARIABLE)
        if password is None:
            raise Refused(f"--user {user}: set {PASSWORD_VARIABLE} to its password")
        if ":" in user:
            raise Refused(f"--user {user}: a user name has no ':'")
        headers["Authorization"] = aiohttp.encode_basic_auth(user, password)
    tls = None
    if cacert is not None:
        if _CERTIFICATE.search(_read("--cacert", cacert)) is None:
            raise Refused(f"--cacert {cacert}: no PEM certificate in it")
        try:
            tls = ssl.create_default_context(cafile=cacert)
        except ssl.SSLError as exc:
            raise Refused(f"--cacert {cacert}: {exc.reason or exc}") from None
        except OSError as exc:  # gone since it was read
            raise Refused(f"--cacert {cacert}: {exc.strerror or exc}") from None
    if key is not None and cert is None:
        raise Refused(f"--key {key}: give the certificate it is the key of with --cert")
    if cert is not None:
        tls = tls or ssl.create_default_context()
        _present(tls, cert, key)
    return Access(headers, tls, certified=cert is not None)


#: The most of a --cert or --key file read to look for PEM in it: a certificate chain
#: is a few KiB (and /dev/zero no file to read to its end).
_MAX_PEM: Final = 1 << 20
#: A PEM certificate's first line, as OpenSSL reads one (``TRUSTED`` is its own form).
_CERTIFICATE: Final = re.compile(rb"-----BEGIN (?:TRUSTED )?CERTIFICATE-----")


def _present(tls: ssl.SSLContext, cert: str, key: str | None) -> None:
    """``cert`` and its ``key`` (else the key in ``cert``'s file) loaded into ``tls``;
    :class:`Refused` naming the option and file at fault: OpenSSL names neither, and says
    ``[SSL] PEM lib`` of a file with no certificate or key in it."""
    texts = {option: _read(option, path) for option, path in (("--cert", cert), ("--key", key))}
    if _CERTIFICATE.search(texts["--cert"]) is None:
        raise Refused(f"--cert {cert}: no PEM certificate in it")
    if key is None and b"PRIVATE KEY-----" not in texts["--cert"]:
        raise Refused(f"--cert {cert}: no private key in it: give its file with --key")
    if key is not None and b"PRIVATE KEY-----" not in texts["--key"]:
        raise Refused(f"--key {key}: no PEM private key in it")
    try:
        tls.load_cert_chain(cert, key)
    except ssl.SSLError as exc:
        if exc.reason == "KEY_VALUES_MISMATCH":
            raise Refused(
                f"--key {key} is not the private key of --cert {cert}"
                if key is not None
                else f"--cert {cert}: the private key in it is not its certificate's"
            ) from None
        raise Refused(f"--cert {cert}: {exc.reason or exc}") from None
    except OSError as exc:  # gone since it was read
        raise Refused(f"--cert {cert}: {exc.strerror or exc}") from None


def _read(option: str, path: str | None) -> bytes:
    """The head of ``option``'s file (nothing when not given); :class:`Refused` when it
    cannot be read."""
    if path is None:
        return b""
    try:
        with open(path, "rb") as file:
            return file.read(_MAX_PEM)
    except OSError as exc:
        raise Refused(f"{option} {path}: {exc.strerror or exc}") from None
