"""A secret of the config file (sesd.config.secrets) on its own: alike to another read
from the same place with the same value (a reload keeping a sink's secrets keeps the
sink), a literal its own value, a file's path read whole whatever it holds after its
``file:``, an empty one and one used before it was read refused in words."""

from __future__ import annotations

import re
from pathlib import Path

import pytest

from sesd.config.secrets import Secret


def test_secrets_are_alike_by_where_they_are_read_from_and_what_they_hold(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    assert Secret("s3cret") == Secret("s3cret")
    assert Secret("s3cret") != Secret("other")
    assert Secret("env:KEY") == Secret("env:KEY")
    assert Secret("env:KEY") != Secret("env:OTHER")
    assert Secret("s3cret") != "s3cret"
    monkeypatch.setenv("KEY", "one")
    before = Secret("env:KEY")
    before.resolve()
    monkeypatch.setenv("KEY", "two")
    rotated = Secret("env:KEY")
    rotated.resolve()
    assert before != rotated  # rotated behind the same reference: the sink made anew
    again = Secret("env:KEY")
    again.resolve()
    assert rotated == again


def test_a_literal_resolves_to_itself() -> None:
    """A literal holds no reference to read: with no colon, or one followed by a space,
    it is neither refused as naming nothing nor as spaced, and its value stays."""
    for literal in ("s3cret", "pass: word", "tail: "):
        secret = Secret(literal)
        secret.resolve()
        assert secret.get() == literal


def test_a_file_path_ending_in_a_colon_is_read(tmp_path: Path) -> None:
    """Everything after ``file:`` is the path, colons and all."""
    path = tmp_path / "key:"
    path.write_text("s3cret\n")
    path.chmod(0o600)
    secret = Secret(f"file:{path}")
    secret.resolve()
    assert (secret.get(), secret.open_mode) == ("s3cret", None)


def test_a_secret_used_before_it_was_read_is_refused_in_words() -> None:
    with pytest.raises(RuntimeError, match=r"^secret used before it was resolved$"):
        Secret("env:KEY").get()


def test_an_empty_secret_file_is_refused_naming_the_file(tmp_path: Path) -> None:
    """Blank lines only: no key is sent, and the refusal names the file, not a value."""
    path = tmp_path / "key"
    path.write_text("\n \n")
    with pytest.raises(ValueError, match=rf"^secret file {re.escape(str(path))} is empty$"):
        Secret(f"file:{path}").resolve()


def test_a_file_path_s_unset_variable_is_named_as_the_path_reads_it(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The variable said not set is the one the path's expansion looked up: its name
    is ASCII letters, digits and '_', so a letter after them is the path's, and
    ``${}`` names none (the path keeps it as written, as it keeps an unset one)."""
    monkeypatch.delenv("SESD_UNSET", raising=False)
    for written, said in (
        ("$SESD_UNSETé/key", "; $SESD_UNSET is not set here"),
        ("${}/key", ""),
    ):
        with pytest.raises(ValueError, match="cannot read secret file") as refused:
            Secret(f"file:{tmp_path}/{written}").resolve()
        assert str(refused.value) == (
            f"cannot read secret file {tmp_path}/{written}: No such file or directory{said}"
        )
