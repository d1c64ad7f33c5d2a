"""A reload's certificate and key: read off the event loop, loaded on it from memory.

Python's ssl loads a certificate and key from paths alone, and the listener's context
is loaded on the event loop, where its handshakes run (an OpenSSL context must not
change under a handshake in another thread). Loaded there from the files themselves,
a share that stopped answering since the reload read them held the event loop, and
with it every request and the stop signals, for ever. The files are read in a thread
apart instead (:func:`read_chain`, which the caller bounds), and the loop loads what
was read from files in memory (:func:`in_memory`), whose read cannot hang."""

from __future__ import annotations

import os
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import msgspec

from sesd.config import ConfigError
from sesd.config.reading import read_bounded
from sesd.config.web import TlsServerConfig, server_context

__all__ = ["in_memory", "read_chain"]

#: Where a process's open files are named by number.
_OPEN_FILES = Path("/proc/self/fd")
#: The keys of the files read, in the order read.
_KEYS = ("cert_file", "key_file")


def read_chain(tls: TlsServerConfig) -> tuple[bytes, bytes]:
    """The certificate and key ``tls`` names, as read, checked as a context of their own
    (the client CA file with them); ConfigError naming the key of the file at fault.
    Blocking: for a thread apart."""
    blobs = (_read(tls, "cert_file"), _read(tls, "key_file"))
    with in_memory(tls, blobs) as read:
        server_context(read)
    return blobs


@contextmanager
def in_memory(tls: TlsServerConfig, blobs: tuple[bytes, bytes]) -> Iterator[TlsServerConfig]:
    """``tls`` naming files in memory that hold ``blobs`` (its certificate and key as
    read), closed at the end. Where the system makes none (no memfd, no /proc), ``tls``
    as it is: the files read again where they are."""
    opened: list[int] = []
    try:
        if _OPEN_FILES.is_dir():
            for key, blob in zip(_KEYS, blobs, strict=True):
                opened.append(os.memfd_create(f"sesd-{key}", os.MFD_CLOEXEC))
                with os.fdopen(os.dup(opened[-1]), "wb") as handle:
                    handle.write(blob)
    except (AttributeError, OSError):  # not Linux, or a filter that refuses memfd
        _close(opened)
        opened = []
    try:
        if len(opened) < len(_KEYS):
            yield tls
        else:
            cert, key = (str(_OPEN_FILES / str(fd)) for fd in opened)
            yield msgspec.structs.replace(tls, cert_file=cert, key_file=key)
    finally:
        _close(opened)


def _read(tls: TlsServerConfig, key: str) -> bytes:
    path: str = getattr(tls, key)
    try:
        return read_bounded(Path(path), what="no certificate or key")
    except OSError as exc:
        raise ConfigError(f"tls_server_config.{key}: cannot read {path}: {exc.strerror}") from None


def _close(opened: list[int]) -> None:
    for fd in opened:
        os.close(fd)
