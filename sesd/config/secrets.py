"""A secret of the config file (a key sent, a password): where it is read from, read
once at load, never shown."""

from __future__ import annotations

import os
import re
from pathlib import Path

from sesd.config.reading import open_to_all, read_bounded
from sesd.core.text import has_control

__all__ = ["Secret", "secret_fault"]


class Secret:
    """A secret value from ``env:NAME``, ``file:PATH`` or a literal.

    The reference is kept for display. A literal is its own value; a reference
    is resolved once, at load (:meth:`resolve`, the only I/O the config does),
    and the value never appears in ``repr``/``str`` (so never in logs or errors).
    """

    __slots__ = ("_value", "open_mode", "reference")

    def __init__(self, reference: str) -> None:
        self.reference = reference
        self._value: str | None = reference if self.is_literal else None
        #: A ``file:`` secret's permission bits, once read, when every user may read it.
        self.open_mode: int | None = None

    @property
    def is_literal(self) -> bool:
        """True when the secret was written into the file itself."""
        return not self.reference.startswith(("env:", "file:"))

    def resolve(self) -> None:
        """Read the secret from its source; raises ValueError naming the source only."""
        ref = self.reference
        kind, _, named = ref.partition(":")  # env: or file:, for a reference
        if not self.is_literal and not named.strip():
            written = "env:NAME" if kind == "env" else "file:PATH"
            raise ValueError(f"{ref!r} names nothing: write {written}")
        if not self.is_literal and named != named.strip():
            # Said as written: read with the space, the name would show as "variable  X".
            what = "name" if kind == "env" else "path"
            raise ValueError(f"{ref!r}: a space around the {what}: write '{kind}:{named.strip()}'")
        if ref.startswith("env:"):
            name = ref[4:]
            value = os.environ.get(name)
            if value is None:
                raise ValueError(f"environment variable {name} is not set")
            if not value.strip():
                raise ValueError(f"environment variable {name} is empty")
            self._value = value.strip()
        elif (path := self.path) is not None:
            try:
                read = read_bounded(path, what="no secret")
                self._value = read.decode().strip()
                self.open_mode = open_to_all(path)
            except OSError as exc:
                unset = _unset_in(self.reference[5:])
                raise ValueError(f"cannot read secret file {path}: {exc.strerror}{unset}") from None
            except UnicodeDecodeError:
                # Not the decoder's message: it names the byte it stopped at, a piece
                # of the secret.
                raise ValueError(f"secret file {path} is not UTF-8 text") from None
            if not self._value:
                raise ValueError(f"secret file {path} is empty")
        else:
            self._value = ref

    @property
    def path(self) -> Path | None:
        """The file a ``file:`` secret is read from, environment variables expanded
        ("$CREDENTIALS_DIRECTORY/..." works with systemd's LoadCredential=); else None."""
        if not self.reference.startswith("file:"):
            return None
        return Path(os.path.expandvars(self.reference[5:]))

    @property
    def is_read(self) -> bool:
        """Whether :meth:`get` has a value: a literal, or a reference resolved."""
        return self._value is not None

    def get(self) -> str:
        """The secret itself; only the code that sends it should call this."""
        if self._value is None:
            raise RuntimeError("secret used before it was resolved")
        return self._value

    def masked(self) -> str:
        """What to print: the reference for env/file, asterisks for a literal."""
        return "***" if self.is_literal else self.reference

    def __repr__(self) -> str:
        return f"Secret({self.masked()!r})"

    __str__ = __repr__

    def __eq__(self, other: object) -> bool:
        # Alike when read from the same place with the same value: a reload that keeps
        # a sink's secrets keeps the sink (and where its notification in flight got to);
        # a secret rotated behind the same reference makes it anew.
        if not isinstance(other, Secret):
            return NotImplemented
        return (self.reference, self._value) == (other.reference, other._value)

    def __hash__(self) -> int:
        return hash(self.reference)


#: A variable a ``file:`` path names, as os.path.expandvars reads one: $NAME or ${NAME},
#: NAME of ASCII word characters after a bare $ (in "$DIRé" the é is the path's).
_VARIABLE = re.compile(r"\$(\w+|\{[^}]*\})", re.ASCII)


def _unset_in(written: str) -> str:
    """What to add to the error of a ``file:`` secret not read whose path names a
    variable not set here, which is then left in the path as written: systemd sets
    $CREDENTIALS_DIRECTORY for the unit's own processes alone, so ``sesd check-config``
    or ``send-test-alert`` typed in a shell looked for a file named with a dollar."""
    # ${} names no variable: the path keeps it as written, as it keeps an unset one.
    names = [match.strip("{}") for match in _VARIABLE.findall(written) if match != "{}"]
    unset = [name for name in dict.fromkeys(names) if name not in os.environ]
    if not unset:
        return ""
    said = "; " + ", ".join(f"${name}" for name in unset)
    said += " is not set here" if len(unset) == 1 else " are not set here"
    if "CREDENTIALS_DIRECTORY" in unset:
        said += (
            ": systemd sets $CREDENTIALS_DIRECTORY only for the unit's own processes "
            "(LoadCredential=), not for a command typed in a shell"
        )
    return said


def secret_fault(value: str, *, token: bool) -> str | None:
    """What keeps a secret's ``value`` (not a URL) from being sent as written, or None;
    said without the value. No key sent or password holds a control or invisible character
    (a line break pasted at the end of a literal: a file's or a variable's is left off
    when read); a ``token`` (an API key) holds no space either."""
    if has_control(value):
        return (
            "has a line break or another control or invisible character: no key or "
            "password holds one"
        )
    if token and any(char.isspace() for char in value):
        return "has a space: no such key holds one"
    return None
