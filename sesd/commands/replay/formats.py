"""What replay's inputs are, by their first bytes: the forms it does not read (other
compressions than gzip, the columnar formats of Firehose's record format conversion)
are named once, rather than each run of their bytes counted as an invalid value."""

from __future__ import annotations

from typing import Final

__all__ = ["HEAD", "Unread", "archived", "short_of_a_tar_header", "unread"]

#: The first bytes of each form replay does not read (no JSON value starts so).
_UNREAD: Final = (
    (b"PK\x03\x04", "ZIP"),
    (b"BZh", "bzip2"),
    (b"\x28\xb5\x2f\xfd", "zstd"),
    (b"\xfd7zXZ\x00", "xz"),
    (b"\xff\x06\x00\x00sNaPpY", "Snappy"),
    (b"PAR1", "Parquet"),
    (b"ORC", "ORC"),
)
#: How many first bytes :func:`unread` looks at.
HEAD: Final = max(len(magic) for magic, _ in _UNREAD)


class Unread(Exception):
    """An input in a form replay does not read; the message says which, and what to do."""


def unread(head: bytes) -> Unread | None:
    """Why an input starting with ``head`` is not read (None: it may be)."""
    for magic, kind in _UNREAD:
        if head.startswith(magic):
            return Unread(
                f"{kind} data, not JSON or gzip: convert it first (Firehose writes what "
                "replay reads with its compression GZIP or none, and no record format "
                "conversion)"
            )
    return None


def archived(head: bytes) -> Unread | None:
    """Why data starting with ``head`` is not read (None: it may be) when it is a tar
    archive (a day's directory handed on as ``tar -czf``): read as JSON, the first
    line of each file in it is glued to the file's header, an invalid value, and its
    events are lost among values that do replay. Told by a header whose checksum holds,
    in the first 512 bytes (fewer tell nothing): a ustar header (POSIX's, GNU's) or one
    of the format before them (``tar --format=v7``), which has no "ustar" mark: its
    checksum is then held to end as every tar writes it, in a NUL or a space. JSON text
    may hold anything in a string, that sum where the checksum goes and "ustar" too (a
    subject a stranger wrote), but never a raw NUL byte, which every tar header holds
    (its fields end in one, its unused bytes are NULs)."""
    if len(head) < _TAR_BLOCK or b"\0" not in head[:_TAR_BLOCK]:
        return None
    field = head[148:156]
    digits = field.strip(b"\0 ")
    if not digits or digits.strip(b"01234567"):
        return None
    if head[257:262] != b"ustar" and field[-1:] not in (b"\0", b" "):
        return None
    # The checksum is of the header with its own eight bytes read as spaces; some old
    # tars summed its bytes as signed (those over 127 negative).
    header = head[:148] + b" " * 8 + head[156:_TAR_BLOCK]
    if int(digits, 8) not in (sum(header), sum(header) - 256 * sum(b > 127 for b in header)):
        return None
    return Unread("tar data, not JSON: unpack it first (tar -xf) and replay the files it holds")


def short_of_a_tar_header(head: bytes) -> bool:
    """Whether the first bytes read, ``head``, are too few to tell a tar archive by
    (a pipe's first read may be a hundred bytes): fewer than a header, and not opening
    as what replay reads does (JSON, its white space or a byte-order mark), which need
    not wait for more."""
    return len(head) < _TAR_BLOCK and head[:1] not in _NO_TAR_OPENS


#: The size of a tar header.
_TAR_BLOCK: Final = 512
#: First bytes no tar header has (its member's name opens it) and JSON text may.
_NO_TAR_OPENS: Final = frozenset(bytes([b]) for b in b"{[ \t\r\n\xef\xfe\xff\x00")
