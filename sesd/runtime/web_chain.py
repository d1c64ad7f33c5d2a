"""A reload's certificate and key: read off the event loop, loaded on it from copies.

Python's ssl loads a certificate and key from paths alone, and the listener's context
is loaded on the event loop, where its handshakes run (an OpenSSL context must not
change under a handshake in another thread: loaded in one, a key whose read hangs
leaves the port with the new certificate and no key, and no handshake succeeds).
Loaded there from the files themselves, a share that stopped answering since the
reload read them held the event loop, and with it every request and the stop
signals, for ever. The files are read in a thread apart instead (:func:`read_chain`,
which the caller bounds), which copies what it read to files of sesd's own, in memory
or (where memfd is not made) on the temp directory's disk: the loop loads those
(:class:`Chain`)."""

from __future__ import annotations

import os
import shutil
import tempfile
import weakref
from pathlib import Path

import msgspec

from sesd.config import ConfigError
from sesd.config.reading import read_bounded
from sesd.config.web import TlsServerConfig, server_context
from sesd.core.text import escaped

__all__ = ["Chain", "read_chain"]

#: Where a process's open files are named by number.
_OPEN_FILES = Path("/proc/self/fd")
#: The keys of the files read, in the order read.
_KEYS = ("cert_file", "key_file")


class Chain:
    """The certificate and key as read, copied to files of sesd's own: in memory
    (memfd) where the system makes them, or else in a directory of the temp dir only
    sesd may read (named there only while the read apart writes them, where /proc
    is; without it, until the load is over). Closed by :meth:`close`, or once
    dropped (a read given up that returns later)."""

    def __init__(self, tls: TlsServerConfig, blobs: tuple[bytes, bytes]) -> None:
        opened: list[int] = []
        directory: list[str] = []
        #: Removes the copies; called at most once, by close() or at collection.
        self._remove = weakref.finalize(self, _remove, opened, directory)
        try:
            paths = _in_memory(blobs, opened) or _in_directory(blobs, opened, directory)
        except BaseException:
            self._remove()
            raise
        #: ``tls`` naming the copies.
        self.tls = msgspec.structs.replace(tls, cert_file=paths[0], key_file=paths[1])

    def close(self) -> None:
        """Remove the copies."""
        self._remove()


def read_chain(tls: TlsServerConfig) -> Chain:
    """The certificate and key ``tls`` names, as read, checked as a context of their own
    (the client CA file with them); ConfigError naming the key of the file at fault.
    Blocking: for a thread apart."""
    chain = Chain(tls, (_read(tls, "cert_file"), _read(tls, "key_file")))
    try:
        server_context(chain.tls)
    except BaseException:
        chain.close()
        raise
    return chain


def _in_memory(blobs: tuple[bytes, bytes], opened: list[int]) -> list[str] | None:
    """Paths to files in memory holding ``blobs`` (their descriptors added to
    ``opened``); None where the system makes none (no memfd, no /proc)."""
    if not _OPEN_FILES.is_dir():
        return None
    try:
        for key, blob in zip(_KEYS, blobs, strict=True):
            opened.append(os.memfd_create(f"sesd-{key}", os.MFD_CLOEXEC))
            with os.fdopen(os.dup(opened[-1]), "wb") as handle:
                handle.write(blob)
    except (AttributeError, OSError):  # not Linux, or a filter that refuses memfd
        _remove(opened, [])
        return None
    return [str(_OPEN_FILES / str(fd)) for fd in opened]


def _in_directory(blobs: tuple[bytes, bytes], opened: list[int], directory: list[str]) -> list[str]:
    """Paths to copies of ``blobs`` made in a directory of the temp directory (told to
    ``directory``), which only sesd may read: mkdtemp makes it so. Where /proc names
    open files, the copies are opened (told to ``opened``) and their names removed
    here, in the thread apart: the event loop loads them by descriptor, never by a
    name there, nor removes one (on a disk that hangs, a removal would hold it), and
    a process killed leaves no copy of the key behind. ConfigError saying why
    when the temp directory takes none (unwritable, full, none usable): a reload
    refused as for a file that does not load, not as a fault of sesd's."""
    try:
        directory.append(tempfile.mkdtemp(prefix="sesd-tls-"))
        paths = [os.path.join(directory[0], key) for key in _KEYS]
        for path, blob in zip(paths, blobs, strict=True):
            flags = os.O_WRONLY | os.O_CREAT | os.O_EXCL
            with open(os.open(path, flags, 0o600), "wb") as handle:
                handle.write(blob)
        if _OPEN_FILES.is_dir():
            for path in paths:
                opened.append(os.open(path, os.O_RDONLY | os.O_CLOEXEC))
                os.unlink(path)
            os.rmdir(directory[0])
            directory.clear()
            return [str(_OPEN_FILES / str(fd)) for fd in opened]
    except OSError as exc:
        # The directory made, or else the temp directory (None: no usable one at all,
        # as the error says).
        where = directory[0] if directory else tempfile.tempdir or "the temp directory"
        why = escaped(f"{where}: {exc.strerror or exc}", 500)
        raise ConfigError(
            f"tls_server_config: no file in memory here, and no copy of cert_file and "
            f"key_file made in the temp directory (TMPDIR): {why}"
        ) from None
    return paths


def _read(tls: TlsServerConfig, key: str) -> bytes:
    path: str = getattr(tls, key)
    try:
        return read_bounded(Path(path), what="no certificate or key")
    except OSError as exc:
        raise ConfigError(f"tls_server_config.{key}: cannot read {path}: {exc.strerror}") from None


def _remove(opened: list[int], directory: list[str]) -> None:
    for fd in opened:
        os.close(fd)
    opened.clear()
    for path in directory:
        shutil.rmtree(path, ignore_errors=True)
    directory.clear()
