"""Replay input as a stream: the same events newline-delimited, gzipped, written back
to back as Firehose does, in directories and globs, give the same report; a body too
large is counted and skipped; an unreadable file is reported and the rest replayed;
a 1 GB input replays in bounded memory."""

from __future__ import annotations

import bz2
import contextlib
import gzip
import io
import json
import os
import subprocess
import sys
import tarfile
import tempfile
import zipfile
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any, Final

import hypothesis
import pytest
from hypothesis import strategies as st

from sesd.commands.demo.localsqs import LocalSqs
from sesd.commands.main import main
from sesd.commands.replay.archive import read_paths
from sesd.commands.replay.formats import archived
from sesd.commands.replay.json_stream import MAX_BODY, TOO_LARGE
from sesd.config.sections import IngestConfig
from tests import factory as f
from tests.sesd_process import hearing_ctrl_c
from tests.test_state_files import NOBODY

FIXTURE = Path(__file__).parent / "fixtures" / "replay.jsonl"


def _events(n: int = 30) -> list[dict[str, object]]:
    out: list[dict[str, object]] = []
    for i in range(n):
        domain = ("gmail.example", "outlook.example", "yahoo.example")[i % 3]
        at = f.T0 + i
        if i % 5 == 0:
            out.append(f.delay([f"u{i}@{domain}"], at=at, message_id=f"m{i}"))
        elif i % 7 == 0:
            out.append(f.bounce([f"u{i}@{domain}"], at=at, message_id=f"m{i}"))
        else:
            out.append(f.delivery([f"u{i}@{domain}"], at=at, message_id=f"m{i}"))
    return out


def _report(config: Path, *paths: str, capsys: pytest.CaptureFixture[str]) -> dict:  # type: ignore[type-arg]
    assert main(["replay", "--config", str(config), "--json", *paths]) == 0
    return json.loads(capsys.readouterr().out)  # type: ignore[no-any-return]


@pytest.fixture
def config(tmp_path: Path) -> Path:
    path = tmp_path / "sesd.toml"
    path.write_text("[providers]\nenabled = false\n")
    return path


def test_every_form_of_the_same_events_gives_the_same_report(
    tmp_path: Path, config: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    events = _events()
    ndjson = tmp_path / "events.jsonl"
    ndjson.write_text("".join(json.dumps(e) + "\n" for e in events))
    expected = _report(config, str(ndjson), capsys=capsys)
    assert sum(expected["messages"].values()) == 30

    firehose = tmp_path / "firehose"  # Firehose's default: objects back to back
    firehose.write_bytes(b"".join(json.dumps(e, separators=(",", ":")).encode() for e in events))
    packed = tmp_path / "events.jsonl.gz"
    packed.write_bytes(gzip.compress(ndjson.read_bytes()))
    unnamed = tmp_path / "part-0001"  # gzip without the .gz name: known by its magic
    unnamed.write_bytes(gzip.compress(firehose.read_bytes()))
    array = tmp_path / "events.json"
    array.write_text(json.dumps(events, indent=2))
    # A directory of parts, read recursively in name order, and a glob over them.
    parts = tmp_path / "archive" / "2027" / "01"
    parts.mkdir(parents=True)
    for i in range(3):
        (parts / f"part-{i}.jsonl").write_text(
            "".join(json.dumps(e) + "\n" for e in events[i * 10 : (i + 1) * 10])
        )
    for form in (firehose, packed, unnamed, array):
        assert _report(config, str(form), capsys=capsys) == expected, form.name
    assert _report(config, str(tmp_path / "archive"), capsys=capsys) == expected
    assert _report(config, str(tmp_path / "archive" / "**" / "part-*"), capsys=capsys) == expected
    # A recursive glob matching directories and their files (README's form), and
    # arguments that overlap: each file is read once.
    archive = tmp_path / "archive"
    assert _report(config, str(archive / "**"), capsys=capsys) == expected
    assert _report(
        config, str(archive), str(parts), str(parts / "part-1.jsonl"), capsys=capsys
    ) == (expected)


def test_firehose_objects_with_a_brace_pair_inside_a_string_stay_whole(tmp_path: Path) -> None:
    """`}{` inside a diagnostic is not a boundary: the pieces are joined again."""
    odd = f.delay(["u@x.example"], diagnostic="smtp; 451 see }{ this")
    plain = f.delivery(["v@x.example"])
    path = tmp_path / "firehose"
    path.write_bytes(json.dumps(odd).encode() + json.dumps(plain).encode())
    assert [json.loads(b) for b in read_paths([str(path)])] == [odd, plain]


def test_a_firehose_record_cut_short_costs_itself_not_the_records_after_it(
    tmp_path: Path,
) -> None:
    """A record that never closes (cut short) among objects written back to back is one
    invalid value; every record after it is read, whole."""
    events = _events(10)
    packed = [json.dumps(e, separators=(",", ":")).encode() for e in events]
    cut = b'{"eventType": "Delivery", "mail": {"messageId": "cut", "x": 1'
    path = tmp_path / "firehose"
    path.write_bytes(b"".join(packed[:3]) + cut + b"".join(packed[3:]))
    read = list(read_paths([str(path)]))
    assert read[3] == cut
    assert [json.loads(b) for b in read[:3] + read[4:]] == events


def test_several_indented_documents_in_one_file_are_each_read(tmp_path: Path) -> None:
    """Two `aws sqs receive-message` dumps appended to one file, or `jq .` output of
    several events: each document is read whole, its bodies in order. A byte-order
    mark at the start is no event."""
    events = _events(3)
    first = {"Messages": [{"MessageId": "a", "Body": json.dumps(events[0])}]}
    second = {"Messages": [{"MessageId": b, "Body": json.dumps(e)} for b, e in
                           zip("bc", events[1:], strict=True)]}  # fmt: skip
    dumps = tmp_path / "dumps.json"
    dumps.write_text(json.dumps(first, indent=2) + "\n" + json.dumps(second, indent=2) + "\n")
    assert [json.loads(b) for b in read_paths([str(dumps)])] == events
    bom = tmp_path / "bom.jsonl"  # a byte-order mark before the first event
    bom.write_bytes(b"\xef\xbb\xbf" + "".join(json.dumps(e) + "\n" for e in events).encode())
    assert [json.loads(b) for b in read_paths([str(bom)])] == events
    jq = tmp_path / "jq.json"
    jq.write_text("".join(json.dumps(e, indent=2) + "\n" for e in events))
    assert [json.loads(b) for b in read_paths([str(jq)])] == events


def test_a_body_too_large_is_counted_and_skipped(
    tmp_path: Path, config: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    huge = f.delivery(["big@x.example"])
    huge["padding"] = "x" * (MAX_BODY + 10)
    path = tmp_path / "events.jsonl"
    path.write_text(
        json.dumps(f.delivery(["a@x.example"])) + "\n" + json.dumps(huge) + "\n"
        + json.dumps(f.delivery(["b@x.example"])) + "\n"
    )  # fmt: skip
    assert list(read_paths([str(path)]))[1] is TOO_LARGE
    document = _report(config, str(path), capsys=capsys)
    assert document["messages"]["processed"] == 2
    assert document["invalid"] == {"too_large": 1}
    # The same in an array, read element by element: the large one is skipped whole.
    array = tmp_path / "events.json"
    array.write_text(json.dumps([f.delivery(["a@x.example"]), huge, f.delivery(["b@x.example"])]))
    assert [b is TOO_LARGE for b in read_paths([str(array)])] == [False, True, False]


def test_an_unreadable_file_is_named_and_the_rest_replayed(
    tmp_path: Path, config: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    good = tmp_path / "good.jsonl"
    good.write_text(json.dumps(f.delivery(["a@x.example"])) + "\n")
    broken = tmp_path / "broken.jsonl.gz"
    broken.write_bytes(gzip.compress(good.read_bytes())[:-8] + b"garbage!")
    # A flipped byte inside the compressed data (a bad sector, a damaged object):
    # zlib's own error, not gzip's.
    deflated = bytearray(gzip.compress((good.read_text() * 200).encode(), mtime=0))
    deflated[10] ^= 0xFF  # the first byte after the gzip header: the deflate stream's
    damaged = tmp_path / "damaged.jsonl.gz"
    damaged.write_bytes(bytes(deflated))
    missing = tmp_path / "missing.jsonl"
    empty = tmp_path / "empty"
    empty.mkdir()
    paths = [str(damaged), str(good), str(broken), str(missing), str(empty)]
    code = main(["replay", "--config", str(config), "--json", *paths])
    out, err = capsys.readouterr()
    assert code == 3  # something was skipped
    assert json.loads(out)["messages"]["processed"] >= 1
    lines = [line for line in err.splitlines() if line.startswith("sesd: replay skipped")]
    assert len(lines) == 2
    assert any(f"{missing}: no such file or directory" in line for line in lines)
    assert any(f"{empty}: no files in this directory" in line for line in lines)
    # Read in part, or read whole and then found damaged (the gzip trailer): said so.
    assert f"sesd: replay read only part of {damaged}: " in err
    assert f"sesd: replay read all of {broken} (" in err
    assert "but its gzip check failed" in err


def test_a_file_whose_name_looks_like_a_glob_is_read_as_named(
    tmp_path: Path, config: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    """A file named `events[prod].jsonl` (or `dump*.json`) was taken for a glob: its
    brackets matched one character, not themselves, so the replay read nothing and
    said the file it had been given did not exist. A path that exists is read as
    named; one that does not is still a glob (`archive/*.jsonl`)."""
    event = json.dumps(f.delivery(["a@x.example"])) + "\n"
    named = tmp_path / "events[prod].jsonl"
    named.write_text(event)
    decoy = event.replace("a@x.example", "b@y.example")
    (tmp_path / "eventsp.jsonl").write_text(decoy)  # what [prod] matches, as a glob
    document = _report(config, str(named), capsys=capsys)
    assert document["domains"] == {"x.example": {"delivery": 1}}
    assert document["messages"]["processed"] == 1
    # A glob is still one when no file has its name.
    globbed = _report(config, str(tmp_path / "events*.jsonl"), capsys=capsys)
    assert globbed["messages"]["processed"] == 2


@pytest.mark.parametrize(
    ("kind", "name", "pack"),
    [
        ("ZIP", "events.zip", lambda data: _zipped(data)),
        ("bzip2", "events.jsonl.bz2", lambda data: bz2.compress(data)),
        ("Snappy", "events.snappy", lambda data: b"\xff\x06\x00\x00sNaPpY" + data),
        ("Parquet", "events.parquet", lambda data: b"PAR1" + data),
        ("tar", "events.tar", lambda data: _tarred(data)),
        ("tar", "events.tar.gz", lambda data: gzip.compress(_tarred(data))),
        # Named .gz (a name kept when the compression changed): told by its bytes.
        ("ZIP", "events.jsonl.gz", lambda data: _zipped(data)),
        ("bzip2", "events.jsonl.gz", lambda data: bz2.compress(data)),
        ("zstd", "events.jsonl.gz", lambda data: b"\x28\xb5\x2f\xfd" + data),
    ],
)
def test_a_compression_or_format_replay_cannot_read_is_named_not_read_as_json(
    tmp_path: Path,
    config: Path,
    capsys: pytest.CaptureFixture[str],
    kind: str,
    name: str,
    pack: Callable[[bytes], bytes],
) -> None:
    """Firehose also compresses with ZIP or Snappy, and converts records to Parquet or
    ORC: such an object was read as JSON, each run of its bytes between two newlines
    an invalid value (`body is not JSON`, by the hundred), and beside inputs that
    replay, the exit status was 0: its events were lost among invalid counts. It is
    named as what it is and skipped (exit 3); the rest is replayed. So is a tar archive
    (a day's directory handed on as `tar -czf`), gzipped or not: read as JSON, the
    first line of each file in it was glued to its header, an invalid value, and the
    exit status was 0. One named ``.gz`` is named by what it holds, not said to be "not
    gzip data"."""
    event = json.dumps(f.delivery(["a@x.example"])) + "\n"
    good = tmp_path / "good.jsonl"
    good.write_text(event)
    other = tmp_path / name
    other.write_bytes(pack((event * 50).encode()))
    assert main(["replay", "--config", str(config), "--json", str(good), str(other)]) == 3
    out, err = capsys.readouterr()
    document = json.loads(out)
    assert document["messages"] == {"processed": 1, "skipped": 0, "invalid": 0, "duplicate": 0}
    assert f"sesd: replay skipped {other}: {kind} data, not JSON" in err


class _Trickle(io.RawIOBase):
    """A pipe whose writer hands its bytes over ``size`` at a time (ssh, curl: a first
    write as short as what the network brought)."""

    def __init__(self, data: bytes, size: int) -> None:
        super().__init__()
        self._data, self._size = data, size

    def readable(self) -> bool:
        return True

    def readinto(self, buffer: Any) -> int:
        piece, self._data = self._data[: self._size], self._data[self._size :]
        buffer[: len(piece)] = piece
        return len(piece)


@pytest.mark.parametrize("v7", [False, True])
@pytest.mark.parametrize("gzipped", [False, True])
def test_a_tar_archive_read_from_a_pipe_in_short_pieces_is_named(
    tmp_path: Path,
    config: Path,
    capsys: pytest.CaptureFixture[str],
    monkeypatch: pytest.MonkeyPatch,
    gzipped: bool,
    v7: bool,
) -> None:
    """A tar archive piped in (`ssh host cat day.tar | sesd replay -`) whose first
    read is shorter than a tar header: judged by those few bytes, it was read as JSON,
    its files' first lines glued to their headers, and the exit status was 0 with the
    other inputs replayed. Its first 512 bytes are waited for, and it is named and
    skipped (exit 3). So is one in the format before POSIX's (`tar --format=v7`),
    whose header has no "ustar" mark: it was counted as invalid values."""
    event = json.dumps(f.delivery(["a@x.example"])) + "\n"
    good = tmp_path / "good.jsonl"
    good.write_text(event)
    data = _tarred((event * 50).encode(), v7=v7)
    data = gzip.compress(data) if gzipped else data
    piped = io.BufferedReader(_Trickle(data, 100))
    monkeypatch.setattr(sys, "stdin", io.TextIOWrapper(piped))
    assert main(["replay", "--config", str(config), "--json", str(good), "-"]) == 3
    out, err = capsys.readouterr()
    assert json.loads(out)["messages"]["processed"] == 1
    assert "sesd: replay skipped -: tar data, not JSON" in err


def test_many_inputs_skipped_are_named_twenty_then_counted(
    tmp_path: Path, config: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    """A month of hourly objects compressed as ZIP is 720 inputs skipped: each had its
    line on stderr, 720 lines that buried what came after them. The first 20 are named,
    then one line counts the others, as check-config says its warnings; the exit
    status stays 3, and the inputs replay reads are replayed."""
    archive = tmp_path / "archive"
    archive.mkdir()
    event = json.dumps(f.delivery(["a@x.example"])) + "\n"
    for hour in range(25):
        (archive / f"part-{hour:02}.zip").write_bytes(_zipped(event.encode()))
    (archive / "part-99.jsonl").write_text(event)
    assert main(["replay", "--config", str(config), "--json", str(archive)]) == 3
    out, err = capsys.readouterr()
    assert json.loads(out)["messages"]["processed"] == 1
    skipped = [line for line in err.splitlines() if line.startswith("sesd: replay skipped")]
    assert len(skipped) == 21
    assert skipped[19].startswith(f"sesd: replay skipped {archive}/part-19.zip: ZIP data")
    assert skipped[20] == "sesd: replay skipped 5 more inputs, not named here (the first 20 are)"


@pytest.mark.parametrize(
    ("url", "said"),
    [
        ("s3://", "no bucket named: write s3://BUCKET/PREFIX"),
        ("s3:///events/", "no bucket named: write s3://BUCKET/PREFIX"),
        (
            "s3://ses archive/events/",
            "'ses archive' is no S3 bucket's name (letters, digits, '.', '-' and '_'): "
            "write s3://BUCKET/PREFIX",
        ),
    ],
)
def test_an_s3_url_without_a_bucket_says_what_to_write(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], url: str, said: str
) -> None:
    """`s3://` with no bucket, or a bucket's name with a space in it (a path pasted
    whole), was the SDK's refusal: "Parameter validation failed", a line break shown
    escaped and two regular expressions. It says what is wrong and what to write; the
    input is skipped, exit 3. (No call is made: nothing listens at the endpoint.)"""
    config = tmp_path / "sesd.toml"
    config.write_text(
        '[aws]\nendpoint_url = "http://127.0.0.1:9"\naccess_key_id = "testing"\n'
        'secret_access_key = "testing"\n[providers]\nenabled = false\n'
    )
    assert main(["replay", "--config", str(config), url]) == 3
    assert capsys.readouterr().err.splitlines()[-1] == f"sesd: replay skipped {url}: {said}"


_JSON_TEXT = st.text(st.characters(codec="utf-8"), max_size=300)


@hypothesis.settings(max_examples=200, deadline=None)
@hypothesis.given(before=_JSON_TEXT, after=_JSON_TEXT, ustar=st.booleans(), indent=st.booleans())
def test_json_is_never_taken_for_a_tar_header(
    before: str, after: str, ustar: bool, indent: bool
) -> None:
    """A replay file of JSON whose first 512 bytes hold, where a tar header keeps its
    checksum, digits that are that sum (a subject a stranger wrote, `" 116543 "`, and
    "ustar" where the mark is, or not): it was skipped whole as "tar data, not JSON".
    A tar header always holds a NUL byte (its fields end in one, its unused bytes are
    NULs) and JSON text never does, raw: JSON is never taken for tar."""
    event = {"eventType": "Delivery", "mail": {"commonHeaders": {"subject": ""}}}
    text = json.dumps(event, indent=2 if indent else None).encode()
    start = text.index(b'"subject": "') + len(b'"subject": "')
    opening = (text[:start] + json.dumps(before, ensure_ascii=False)[1:-1].encode())[:148]
    head = bytearray(opening.ljust(148, b"x") + b" " * 8 + b"y" * 101)
    head += b"ustar" if ustar else b"z" * 5
    head += json.dumps(after, ensure_ascii=False)[1:-1].encode()
    head = (head + b"z" * 512)[:512]
    # As a tar writes its checksum: summed with its own eight bytes as spaces.
    head[148:156] = b" %06o " % sum(head)
    data = bytes(head) + b'"}}}\n'
    # Not when a cut (at 148 bytes, at 512) split an escape or a character.
    hypothesis.assume(_is_json(data))
    assert archived(data) is None


def _is_json(data: bytes) -> bool:
    try:
        json.loads(data)
    except ValueError:
        return False
    return True


def _tarred(data: bytes, *, v7: bool = False) -> bytes:
    """``data`` as the one file of a tar archive (a day's directory, `tar -cf`); with
    ``v7``, in the format before POSIX's (`tar --format=v7`): the header's fields after
    its link name (the "ustar" mark, the owner's names, the prefix) are not there."""
    packed = io.BytesIO()
    with tarfile.open(fileobj=packed, mode="w", format=tarfile.USTAR_FORMAT) as archive:
        member = tarfile.TarInfo("2026/11/01/events.jsonl")
        member.size = len(data)
        archive.addfile(member, io.BytesIO(data))
    tarred = bytearray(packed.getvalue())
    if v7:
        tarred[257:512] = bytes(255)
        tarred[148:156] = b" " * 8  # the checksum is of the header with these as spaces
        tarred[148:156] = b"%06o\0 " % sum(tarred[:512])
    return bytes(tarred)


def _zipped(data: bytes) -> bytes:
    packed = io.BytesIO()
    with zipfile.ZipFile(packed, "w", zipfile.ZIP_DEFLATED) as archive:
        archive.writestr("events.jsonl", data)
    return packed.getvalue()


def test_a_directory_replay_cannot_list_is_named(capsys: pytest.CaptureFixture[str]) -> None:
    """An archive with a day's directory this user may not list (copied as root, 0700):
    the walk left it out without a word and the replay exited 0, a day short. It is
    named on stderr, the rest replayed, exit 3."""
    with tempfile.TemporaryDirectory() as where:  # under /tmp, which any user may reach
        archive = Path(where)
        event = json.dumps(f.delivery(["a@x.example"])) + "\n"
        (archive / "01").mkdir()
        (archive / "01" / "a.jsonl").write_text(event)
        closed = archive / "02"
        closed.mkdir()
        (closed / "b.jsonl").write_text(event.replace("a@x", "b@y"))
        config = archive / "sesd.toml"
        config.write_text("[providers]\nenabled = false\n")
        for path in (archive, archive / "01", archive / "01" / "a.jsonl", config):
            path.chmod(0o755)
        closed.chmod(0o700)
        root = os.geteuid() == 0
        if root:  # root lists any directory: list it as another user
            os.chown(closed, 0, 0)
            # Once as root first: what a replay imports lazily, this user may not read.
            main(["replay", "--config", str(config), "--json", str(archive / "01")])
            capsys.readouterr()
            os.seteuid(NOBODY)
        else:
            closed.chmod(0)
        try:
            code = main(["replay", "--config", str(config), "--json", str(archive / "01"), where])
        finally:
            if root:
                os.seteuid(0)
            closed.chmod(0o700)
    out, err = capsys.readouterr()
    assert code == 3
    assert json.loads(out)["domains"] == {"x.example": {"delivery": 1}}
    assert f"sesd: replay skipped {closed}: cannot read: Permission denied" in err


def test_a_directory_named_that_cannot_be_listed_is_not_called_empty(
    capsys: pytest.CaptureFixture[str],
) -> None:
    """A day's directory this user may not list, named on the command line: stderr said
    it could not be read, then that it held no files, which sends the reader looking
    for a copy that failed when the files are there. It says only that it cannot be
    read; exit 3."""
    with tempfile.TemporaryDirectory() as where:  # under /tmp, which any user may reach
        archive = Path(where)
        closed = archive / "02"
        closed.mkdir()
        (closed / "b.jsonl").write_text(json.dumps(f.delivery(["b@y.example"])) + "\n")
        config = archive / "sesd.toml"
        config.write_text("[providers]\nenabled = false\n")
        for path in (archive, config):
            path.chmod(0o755)
        closed.chmod(0o700)
        root = os.geteuid() == 0
        if root:  # root lists any directory: list it as another user
            os.chown(closed, 0, 0)
            # Once as root first: what a replay imports lazily, this user may not read.
            main(["replay", "--config", str(config), "--json", str(config)])
            capsys.readouterr()
            os.seteuid(NOBODY)
        else:
            closed.chmod(0)
        try:
            code = main(["replay", "--config", str(config), "--json", str(closed)])
        finally:
            if root:
                os.seteuid(0)
            closed.chmod(0o700)
    err = capsys.readouterr().err
    assert code == 3
    assert f"sesd: replay skipped {closed}: cannot read: Permission denied" in err
    assert "no files in this directory" not in err


def test_a_link_to_a_directory_in_an_archive_is_followed_once(
    tmp_path: Path, config: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    """An archive of links to each month's directory on another disk: the walk did not
    follow them, and replayed what the archive held itself, exit 0, without a word.
    Links are followed; a directory reached twice (a link to an ancestor, two links
    to one place) is walked once, so nothing loops or counts twice."""
    event = json.dumps(f.delivery(["a@x.example"])) + "\n"
    archive, elsewhere = tmp_path / "archive", tmp_path / "disk" / "2026-11"
    archive.mkdir()
    elsewhere.mkdir(parents=True)
    (archive / "a.jsonl").write_text(event)
    (elsewhere / "b.jsonl").write_text(event.replace("a@x", "b@y"))
    (archive / "november").symlink_to(elsewhere)
    (archive / "again").symlink_to(elsewhere)
    (elsewhere / "up").symlink_to(archive)
    document = _report(config, str(archive), capsys=capsys)
    assert document["domains"] == {"x.example": {"delivery": 1}, "y.example": {"delivery": 1}}
    assert document["messages"]["duplicate"] == 0


def test_hidden_files_in_a_walked_directory_are_not_read_but_named_ones_are(
    tmp_path: Path, config: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    """An archive copied from a Mac or kept in git holds `.DS_Store`, `.gitkeep`, an
    editor's swap file and a `.git` directory: the walk read them as inputs, each an
    invalid value (or several), and the counts said the archive held values that are
    not SES events. A walk leaves out names starting with '.' (files and
    directories); a hidden file or directory named on the command line is read. A
    directory holding only hidden files is said so."""
    event = json.dumps(f.delivery(["a@x.example"])) + "\n"
    archive = tmp_path / "archive"
    (archive / ".git" / "objects").mkdir(parents=True)
    (archive / "day").mkdir()
    (archive / "day" / "a.jsonl").write_text(event)
    (archive / ".DS_Store").write_bytes(b"\x00\x00\x00\x01Bud1" + bytes(100))
    (archive / ".gitkeep").write_text("")
    (archive / "day" / ".a.jsonl.swp").write_bytes(b"b0VIM 9.0" + bytes(50) + b"{x")
    (archive / ".git" / "objects" / "ab").write_text('{"hello": 1}\n')
    hidden = tmp_path / ".hidden.jsonl"
    hidden.write_text(event.replace("a@x", "b@y"))
    document = _report(config, str(archive), str(hidden), capsys=capsys)
    assert (document["messages"]["processed"], document["messages"]["invalid"]) == (2, 0)
    assert document["domains"] == {"x.example": {"delivery": 1}, "y.example": {"delivery": 1}}
    assert main(["replay", "--config", str(config), "--json", str(archive / ".git")]) == 3
    assert json.loads(capsys.readouterr().out)["messages"]["invalid"] == 1
    only = tmp_path / "only"
    only.mkdir()
    (only / ".gitkeep").write_text("")
    assert main(["replay", "--config", str(config), "--json", str(only)]) == 3
    assert (
        f"sesd: replay skipped {only}: no files in this directory but hidden ones (names "
        "starting with '.', which a walk leaves out)\n"
    ) in capsys.readouterr().err


@pytest.mark.timeout(15)
def test_a_fifo_in_a_walked_directory_is_left_out_not_waited_on(
    tmp_path: Path, config: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    """A FIFO (or a socket) in a directory replayed, or matched by a glob: the walk
    opened it as an input, and a FIFO's open waits for a writer for ever; the replay
    hung before reading anything. A walk, and a glob, leave out what is not a file or
    a directory, as they leave hidden names out; a directory holding nothing else is
    said so, and so is a glob that matches nothing else (not a replay of an empty
    input with no name)."""
    event = json.dumps(f.delivery(["a@x.example"])) + "\n"
    archive = tmp_path / "archive"
    archive.mkdir()
    (archive / "a.jsonl").write_text(event)
    os.mkfifo(archive / "b.pipe")
    for given in (archive, archive / "*"):
        document = _report(config, str(given), capsys=capsys)
        assert document["domains"] == {"x.example": {"delivery": 1}}
    only = tmp_path / "only"
    only.mkdir()
    os.mkfifo(only / "events.pipe")
    assert main(["replay", "--config", str(config), "--json", str(only)]) == 3
    assert (
        f"sesd: replay skipped {only}: no files in this directory but FIFOs, sockets or "
        "devices, which a walk leaves out\n"
    ) in capsys.readouterr().err
    assert main(["replay", "--config", str(config), "--json", str(only / "*")]) == 3
    err = capsys.readouterr().err
    assert (
        f"sesd: replay skipped {only / '*'}: it matches only FIFOs, sockets or devices, "
        "which a glob leaves out\n"
    ) in err
    assert "read no value" not in err


def test_a_replay_of_nothing_but_invalid_values_says_so_and_exits_3(
    tmp_path: Path, config: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    """A file of values none of which is an SES event (the wrong file) is not a quiet
    month: stderr says so and the exit status is 3."""
    path = tmp_path / "wrong.jsonl"
    path.write_text('{"hello": 1}\n{"world": 2}\n')
    code = main(["replay", "--config", str(config), "--json", str(path)])
    out, err = capsys.readouterr()
    assert code == 3
    assert json.loads(out)["messages"]["invalid"] == 2
    assert "sesd: replay processed no event: of the values read, 2 not SES events" in err


def test_a_replay_of_nothing_but_skipped_values_says_so_and_exits_3(
    tmp_path: Path, config: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    """Values that are no email event (an SNS subscription's confirmation, an SES
    EventBridge record of another kind) and one of another EventBridge source (an
    archive of the wrong bus): nothing was replayed, so the exit status is 3, each
    count named."""
    path = tmp_path / "wrong-bus.jsonl"
    other = json.loads(f.eventbridge(f.delivery(["ann@example.com"])))
    other["source"] = "aws.ec2"
    path.write_text(
        json.dumps({"Type": "SubscriptionConfirmation", "Message": "confirm"})
        + "\n"
        + f.eventbridge(f.delivery(["ann@example.com"]), detail_type="Quota Reached")
        + "\n"
        + json.dumps(other)
        + "\n"
    )
    code = main(["replay", "--config", str(config), "--json", str(path)])
    out, err = capsys.readouterr()
    assert code == 3
    messages = json.loads(out)["messages"]
    assert (messages["processed"], messages["skipped"], messages["invalid"]) == (0, 2, 1)
    assert (
        "sesd: replay processed no event: of the values read, 1 not SES events (see the "
        "invalid counts) and 2 no email event (see the skipped counts)" in err
    )
    path.write_text(json.dumps({"Type": "SubscriptionConfirmation", "Message": "confirm"}))
    assert main(["replay", "--config", str(config), str(path)]) == 3
    assert "of the values read, 1 no email event" in capsys.readouterr().err


def test_values_that_are_not_utf8_or_nest_too_deep_are_counted_not_a_traceback(
    tmp_path: Path, config: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    """An archived EventBridge record whose event holds a Latin-1 byte, and a value
    nested 100,000 deep, among events: each is counted invalid under its reason and
    the events around them are replayed (replay ended with a traceback at either,
    UnicodeDecodeError or RecursionError, losing the whole report)."""
    record = json.loads(f.eventbridge(f.delivery(["u@x.example"])))
    record["detail"]["mail"]["messageId"] = "@@"
    latin1 = json.dumps(record).encode().replace(b"@@", b"caf\xe9")
    deep = b"[" * 100_000 + b"]" * 100_000
    path = tmp_path / "mixed.jsonl"
    event = json.dumps(f.delivery(["v@x.example"])).encode()
    path.write_bytes(b"\n".join([event, latin1, deep, event.replace(b"v@", b"w@")]) + b"\n")
    report = _report(config, str(path), capsys=capsys)
    assert report["messages"] == {"processed": 2, "skipped": 0, "invalid": 2, "duplicate": 0}
    assert report["invalid"] == {"not_utf8": 1, "schema": 1}


def test_an_sqs_dump_with_one_body_not_in_utf8_loses_only_that_body(
    tmp_path: Path, config: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    """An `aws sqs receive-message` dump of three messages, edited so that the second's
    body holds a Latin-1 "é", indented and on one line (`jq -c`): the other two are
    replayed and the second is counted `not_utf8` (the whole dump was one value,
    counted `unrecognised`, its good messages lost with it)."""
    bodies = [f.sns(f.delivery([f"{name}@x.example"])) for name in ("a", "b", "c")]
    dump = {"Messages": [{"MessageId": str(i), "Body": b} for i, b in enumerate(bodies)]}
    for name, text in (("pretty.json", json.dumps(dump, indent=2)), ("one.json", json.dumps(dump))):
        path = tmp_path / name
        path.write_bytes(text.encode().replace(b"b@x", b"b\xe9@x") + b"\n")
        report = _report(config, str(path), capsys=capsys)
        assert report["messages"] == {"processed": 2, "skipped": 0, "invalid": 1, "duplicate": 0}
        assert report["invalid"] == {"not_utf8": 1}


def test_a_value_not_in_utf8_is_placed_in_its_line(
    tmp_path: Path, config: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    """An archive of one event a line whose third line holds a Latin-1 "é" in an
    EventBridge record's event (after "üü" in UTF-8): the report names the input,
    value 3 (its line) and where the byte is in that line, column (characters) and
    byte offset, as an editor and `cut -b` find it; not the decoder's position in the
    one string it was reading."""
    record = json.loads(f.eventbridge(f.delivery(["u@x.example"])))
    record["detail"]["mail"]["messageId"] = "@@"
    line = json.dumps(record, ensure_ascii=False).replace("@@", "üü-caf").encode()
    line = line.replace("üü-caf".encode(), "üü-caf".encode() + b"\xe9")
    at = line.index(b"\xe9")
    column = len(line[:at].decode()) + 1
    event = json.dumps(f.delivery(["v@x.example"])).encode()
    path = tmp_path / "archive.jsonl"
    path.write_bytes(b"\n".join([event, event.replace(b"v@", b"w@"), line]) + b"\n")
    report = _report(config, str(path), capsys=capsys)
    assert report["invalid_values"] == [
        {
            "input": str(path),
            "value": 3,
            "byte_offset": path.read_bytes().index(line),
            "decompressed": False,
            "reason": "not_utf8",
            "detail": "EventBridge detail is not valid UTF-8 (in the value: line 1, "
            f"column {column}, byte offset {at})",
        }
    ]
    assert path.read_bytes().split(b"\n")[2][at : at + 1] == b"\xe9"


def _template() -> str:
    """A delivery of about 1 KB, its message id and recipient domain to be filled in."""
    template = json.dumps(f.delivery(["someone@dNNNNNN.example"], message_id="mNNNNNNNNN"))
    return template + " " * max(0, 1000 - len(template))


def _write_events(path: Path, template: str, count: int) -> None:
    """``count`` events from ``template``, one a line: event i has message id
    m{i:09d} and its recipient domain d{i % 5000:06d}.example, every one new.

    Formatted line by line, the gigabyte took 13-21 s (3 s so). Every line has
    the template's length, so a block of 10,000 lines is built once (10,000 is a
    multiple of 5,000: every block has the same domains in the same places) and each
    block differs from the next only in the ids' first five digits, written in place
    column by column."""
    assert template.count("mNNNNNNNNN") == 1
    size, per_block = len(template) + 1, 10_000
    block = bytearray(
        "".join(
            template.replace("mNNNNNNNNN", f"m{i:09d}").replace("dNNNNNN", f"d{i % 5000:06d}")
            + "\n"
            for i in range(per_block)
        ).encode()
    )
    high = template.index("mNNNNNNNNN") + 1  # the ids' first digit, in each line
    with open(path, "wb") as out:
        for start in range(0, count, per_block):
            for column, digit in enumerate(f"{start // per_block:05d}".encode()):
                block[high + column :: size] = bytes([digit]) * per_block
            out.write(memoryview(block)[: min(per_block, count - start) * size])


#: What a replay's peak must stay within, at a gigabyte of input (README).
_BOUND_KB: Final = 200 * 1024
#: How many of the test's ~1 KB events make a gigabyte.
_GIGABYTE_EVENTS: Final = (1 << 30) // (len(_template()) + 1) + 1
# The replay's peak (VmHWM of this process image: ru_maxrss would also count the forked
# test runner's pages from before exec) once the first ``full`` events are applied, and
# at the end.
_PEAKS_SCRIPT: Final = """\
import sys
from sesd.commands.main import main
from sesd.core.pipeline import Pipeline

full, applied, peaks = int(sys.argv[3]), 0, []
apply = Pipeline.apply

def peak():
    return int(open('/proc/self/status').read().split('VmHWM:')[1].split()[0])

def counted(self, *args, **kwargs):
    global applied
    applied += 1
    if applied == full:
        peaks.append(peak())
    return apply(self, *args, **kwargs)

Pipeline.apply = counted
code = main(['replay', '--config', sys.argv[1], '--json', sys.argv[2]])
print(code, *peaks, peak(), file=sys.stderr)
"""


@pytest.mark.timeout(240)
def test_a_gigabyte_replays_in_bounded_memory(tmp_path: Path) -> None:
    """A gigabyte of newline-delimited events (a million, every one new) replays within
    200 MB of RSS: nothing but the pipeline's state is held, and that state is full
    once its largest store is (the duplicate filter's and the pending delays'
    ``[ingest]`` caps), after which the peak stays where it is.

    So the gigabyte is not replayed: 1.5 times the caps' events are (300,000: 286 MB,
    more than the bound, so an input held whole fails), and the peak at the end, plus
    what the peak grew by an event after the state was full times the events left to a
    gigabyte, must be within the bound: the bound at a gigabyte, were the growth to go
    on as it went (measured at a gigabyte: 110.7 MB at 200,000 events, 111.2 MB at the
    end). A retention of about 85 bytes an event fails either way."""
    ingest = IngestConfig()
    full = max(ingest.dedup_max_entries, ingest.max_pending_delays)
    count = full * 3 // 2
    template = _template()
    path = tmp_path / "big.jsonl"
    _write_events(path, template, count)
    assert path.stat().st_size > _BOUND_KB * 1024
    config = tmp_path / "sesd.toml"
    config.write_text("[providers]\nenabled = false\n")
    done = subprocess.run(
        [sys.executable, "-c", _PEAKS_SCRIPT, str(config), str(path), str(full)],
        capture_output=True,
        text=True,
        check=False,
        timeout=220,
    )
    code, at_full, at_end = (int(x) for x in done.stderr.strip().splitlines()[-1].split())
    assert code == 0, done.stderr[-2000:]
    assert json.loads(done.stdout)["messages"]["processed"] == count
    per_event = max(0, at_end - at_full) / (count - full)
    at_gigabyte = at_end + per_event * (_GIGABYTE_EVENTS - count)
    assert at_gigabyte < _BOUND_KB, (
        f"peak RSS {at_end / 1024:.0f} MB, {at_full / 1024:.0f} MB at {full} events: "
        f"{at_gigabyte / 1024:.0f} MB at a gigabyte"
    )


async def test_s3_objects_under_a_prefix_give_the_same_report(
    tmp_path: Path,
    local_sqs: LocalSqs,
    capsys: pytest.CaptureFixture[str],
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """Firehose-style objects (gzipped, concatenated, in YYYY/MM/DD/HH keys) on moto's
    S3, read in key order through s3://bucket/prefix, report as the same events from a
    local file do, keys with `#`, `?` and `%` in their names included; a prefix with no
    objects is named and the exit status says so."""
    import anyio

    from tests.conftest import aws_client

    events = _events()
    local = tmp_path / "events.jsonl"
    local.write_text("".join(json.dumps(e) + "\n" for e in events))
    async with aws_client("s3", local_sqs) as s3:
        await s3.create_bucket(Bucket="ses-archive")
        for i, hour in enumerate(("07", "08", "09")):
            part = events[i * 10 : (i + 1) * 10]
            data = b"".join(json.dumps(e, separators=(",", ":")).encode() for e in part)
            key = f"events/2027/01/15/{hour}/sesd-stream-1-2027-01-15-{hour}-00-00-{i}.gz"
            if hour == "08":
                key = f"events/2027/01/15/{hour}/part #{i}?v=%41.gz"
            await s3.put_object(Bucket="ses-archive", Key=key, Body=gzip.compress(data))
    config = tmp_path / "sesd.toml"
    config.write_text(f'[aws]\nendpoint_url = "{local_sqs.url}"\n[providers]\nenabled = false\n')

    monkeypatch.setenv("AWS_ACCESS_KEY_ID", "testing")
    monkeypatch.setenv("AWS_SECRET_ACCESS_KEY", "x")

    async def replay(path: str) -> tuple[int, str, str]:
        """``sesd replay`` as the command line runs it, in a thread of its own (its own
        event loop) while this loop serves: no interpreter starts (most of a second of
        CPU each, for a replay of milliseconds)."""
        capsys.readouterr()
        argv = ["replay", "--config", str(config), "--json", path]
        code = await anyio.to_thread.run_sync(main, argv)
        return code, *capsys.readouterr()

    _, expected, _ = await replay(str(local))
    code, out, err = await replay("s3://ses-archive/events/2027/01/")
    assert code == 0, err[-2000:]
    assert json.loads(out) == json.loads(expected)
    code, out, err = await replay("s3://ses-archive/events/2027/01/15/08/part #1")
    assert code == 0, err[-2000:]
    assert json.loads(out)["messages"]["processed"] == 10
    code, _, err = await replay("s3://ses-archive/nothing/")
    assert code == 3
    assert "s3://ses-archive/nothing/: no objects under this prefix" in err


@contextlib.contextmanager
def _terminal(monkeypatch: pytest.MonkeyPatch, columns: int) -> Iterator[bytearray]:
    """This process's stderr on a terminal ``columns`` wide for the block (a pty: the
    replay's bar is shown by what ``isatty`` and the terminal's size say), and
    everything written to it, drained as it comes (a full pty would block the writer)
    and whole once the block ends."""
    import fcntl
    import pty
    import struct
    import termios
    import threading

    master, slave = pty.openpty()
    # A new pty has no size, and no room for a bar.
    fcntl.ioctl(slave, termios.TIOCSWINSZ, struct.pack("HHHH", 24, columns, 0, 0))
    shown = bytearray()

    def drain() -> None:
        while True:
            try:
                chunk = os.read(master, 4096)
            except OSError:  # the terminal closed
                return
            if not chunk:
                return
            shown.extend(chunk)

    reader = threading.Thread(target=drain, name="pty-drain", daemon=True)
    reader.start()
    stream = open(slave, "w", encoding="utf-8", closefd=True)  # noqa: SIM115
    try:
        with monkeypatch.context() as patched:
            patched.setattr(sys, "stderr", stream)
            yield shown
    finally:
        stream.close()  # the reader sees the terminal close once it has read it all
        reader.join(timeout=30)
        os.close(master)
    assert not reader.is_alive()


def test_progress_shows_on_a_terminal_and_ctrl_c_gives_a_partial_report(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    """On a terminal, stderr shows bytes and events read; Ctrl-C (SIGINT) mid-stream
    stops cleanly with the report so far (`interrupted`, exit 3). Off a terminal, and
    with --quiet, stderr shows no progress."""
    import fcntl
    import pty
    import signal
    import struct
    import termios

    from tqdm import tqdm

    config = tmp_path / "sesd.toml"
    config.write_text("[providers]\nenabled = false\n")
    master, slave = pty.openpty()
    # A terminal 120 columns wide (a new pty has no size, and no room for a bar).
    fcntl.ioctl(slave, termios.TIOCSWINSZ, struct.pack("HHHH", 24, 120, 0, 0))
    command = [sys.executable, "-m", "sesd", "replay", "--config", str(config), "--json", "-"]
    with hearing_ctrl_c():
        process = subprocess.Popen(
            command, stdin=subprocess.PIPE, stdout=subprocess.PIPE, stderr=slave
        )
    with process:
        os.close(slave)
        assert process.stdin is not None
        payload = "".join(json.dumps(e) + "\n" for e in _events(100)).encode()
        process.stdin.write(payload)
        process.stdin.flush()  # and left open: the replay waits for more
        # Every byte shown (counted once its events were replayed), as tqdm writes it.
        everything = tqdm.format_sizeof(len(payload), "B", divisor=1024).encode()
        shown = b""
        while everything not in shown:
            shown += os.read(master, 4096)
        process.send_signal(signal.SIGINT)
        # Its input stays open: only the signal can end the replay (closing it first
        # would let a replay that had not run yet end at the input's end instead).
        assert process.stdout is not None
        out = process.stdout.read()
        process.wait(timeout=30)
        process.stdin.close()
    os.close(master)
    assert process.returncode == 3
    document = json.loads(out)
    assert document["interrupted"] is True
    assert document["messages"]["processed"] == 100

    # The rest in this process (an interpreter's start is most of a second of CPU, for
    # a replay of milliseconds): off a terminal (stderr captured) nothing shows; on
    # one, the bar shows, and with --quiet nothing does.
    events = tmp_path / "events.jsonl"
    events.write_text("".join(json.dumps(e) + "\n" for e in _events(10)))
    argv = ["replay", "--config", str(config), "--json", str(events)]
    capsys.readouterr()
    assert main(argv) == 0
    assert "replay:" not in capsys.readouterr().err
    for extra, shows in (([], True), (["--quiet"], False)):
        with _terminal(monkeypatch, 120) as bar:
            assert main([*argv[:-1], *extra, argv[-1]]) == 0
        assert (b"replay:" in bar) is shows, (extra, bar)


def test_ctrl_c_while_dns_looks_domains_up_stops_cleanly(tmp_path: Path) -> None:
    """--dns looks domains up for minutes before the replay (an hour when DNS does not
    answer): a Ctrl-C then, the first thing a user tries, printed a traceback and no
    report. It stops as a Ctrl-C in the replay does: the document (nothing replayed
    yet, `interrupted`), the reason on stderr, exit 3."""
    import signal
    import socket

    with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as nameserver:
        nameserver.bind(("127.0.0.1", 0))  # a DNS server that never answers
        nameserver.settimeout(30)
        port = nameserver.getsockname()[1]
        config = tmp_path / "sesd.toml"
        config.write_text(f'[providers]\nnameservers = ["127.0.0.1:{port}"]\n')
        events = tmp_path / "events.jsonl"
        events.write_text("".join(json.dumps(e) + "\n" for e in _events(10)))
        command = [sys.executable, "-m", "sesd", "replay", "--config", str(config)]
        with hearing_ctrl_c():
            process = subprocess.Popen(
                [*command, "--dns", "--json", str(events)],
                stdout=subprocess.PIPE,
                stderr=subprocess.PIPE,
            )
        with process:
            nameserver.recvfrom(512)  # the lookups have begun
            process.send_signal(signal.SIGINT)
            out, err = process.communicate(timeout=30)
    assert "Traceback" not in err.decode(), err.decode()
    assert process.returncode == 3
    document = json.loads(out)
    assert document["interrupted"] is True
    assert document["messages"]["processed"] == 0
    assert "sesd: replay skipped the rest of the input: interrupted (Ctrl-C)" in err.decode()


def test_a_terminal_shows_the_rules_evaluated_between_two_events_far_apart(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Between two events hours apart nothing is read, while the rules are evaluated
    at every second of event time until the first leaves the window: the bar says how
    far in event time they are, so the replay does not look stuck."""
    config = tmp_path / "sesd.toml"
    config.write_text(
        '[providers]\nenabled = false\n[windows]\nsizes = ["1h"]\n'
        '[alerts]\nevaluate_every = "1s"\n[[alerts.rules]]\nname = "delays"\n'
        'metric = "delay_ratio"\nwindow = "1h"\nabove = 0.5\n'
    )
    events = tmp_path / "events.jsonl"
    apart = [f.delivery([f"{n}@gmail.example"], at=f.T0 + n * 7200) for n in range(2)]
    events.write_text("".join(json.dumps(e) + "\n" for e in apart))
    with _terminal(monkeypatch, 160) as shown:
        assert main(["replay", "--config", str(config), str(events)]) == 0
    # An event time between the two events' (T0 is 08:00, the second comes at 10:00).
    assert b" events, rules at 2027-01-15T08:" in shown


@pytest.mark.parametrize("size", [1, 2, 3, 7, 64, 1 << 20])
def test_an_array_read_in_chunks_of_any_size_gives_the_same_elements(size: int) -> None:
    """Chunk ends fall inside strings (with escaped quotes, brackets and commas in
    them), between elements and inside nested ones: the elements are the same."""
    from sesd.commands.replay.archive import _values

    items = [
        {"a": 'x]}{,\\"y"', "b": [1, {"c": "],"}]},
        "plain string",
        {"Body": '{"k": "v,]"}'},
        {"d": {"e": [[], {}]}},
    ]
    data = json.dumps(items, indent=2).encode()
    chunks = iter([data[i : i + size] for i in range(0, len(data), size)])
    out = list(_values(chunks))
    assert out[1] == b"plain string"  # a string is a body as it stands
    assert [json.loads(b) for b in (out[0], out[2], out[3])] == [
        items[0],
        {"k": "v,]"},
        items[3],
    ]


def test_a_large_element_with_quotes_in_it_is_skipped_to_its_end() -> None:
    """The skipped element's strings hold escaped quotes and brackets; what follows it,
    and the element after a large last one, are read as usual."""
    from sesd.commands.replay.archive import _values

    huge = {"pad": 'q\\"]' * (MAX_BODY // 3), "z": [1, 2]}
    items = [{"a": 1}, huge, {"b": "]"}, huge]
    data = json.dumps(items).encode()
    chunks = iter([data[i : i + 4096] for i in range(0, len(data), 4096)])
    out = list(_values(chunks))
    assert [b is TOO_LARGE for b in out] == [False, True, False, True]
    assert [json.loads(b) for b in out if b is not TOO_LARGE] == [{"a": 1}, {"b": "]"}]


@pytest.mark.parametrize("size", [7, 4096, 1 << 20])
def test_what_follows_a_top_level_array_is_read_too(size: int) -> None:
    """SQS dumps appended (``aws sqs receive-message --query Messages >> f``), arrays a
    line each, and lines after an array: every value is read, not only the first
    array's."""
    from sesd.commands.replay.archive import _values

    events = [f.delivery([f"u{i}@x.example"], message_id=f"m{i}") for i in range(30)]
    text = [json.dumps(e) for e in events]
    data = (
        "[" + ",".join(text[:10]) + "]\n"
        "["
        + ",".join(text[10:15])
        + "]["
        + ",".join(text[15:20])
        + "]\n"
        + "\n".join(text[20:])
        + "\n"
    ).encode()
    chunks = iter([data[i : i + size] for i in range(0, len(data), size)])
    assert [json.loads(b) for b in _values(chunks)] == events


@pytest.mark.parametrize("size", [4093, 1 << 20])
def test_a_firehose_object_over_a_chunk_replays_every_record(size: int) -> None:
    """A Firehose object of several MiB, records back to back on one line, each with
    `}{` inside its diagnostic (one in three also `}{"` after an escaped quote), so
    a chunk's end falls after such a `}{` again and again: every record comes out
    whole and in order."""
    from sesd.commands.replay.archive import _values

    records = []
    for i in range(5000):
        text = "smtp; 451 4.7.1 see }{ this " + "x" * 600
        if i % 3 == 0:
            text += ' and }{\\"x\\":1}{ that'
        records.append(f.delay([f"u{i}@x.example"], diagnostic=text, message_id=f"m{i}"))
    data = b"".join(json.dumps(r, separators=(",", ":")).encode() for r in records)
    assert len(data) > 4 * MAX_BODY
    chunks = iter([data[i : i + size] for i in range(0, len(data), size)])
    out = [json.loads(b) for b in _values(chunks)]
    assert len(out) == len(records)
    assert out == records


@pytest.mark.parametrize("size", [4093, 1 << 20])
def test_eventbridge_records_back_to_back_over_chunks_are_each_read(size: int) -> None:
    """EventBridge to Firehose, no delimiter: each record holds an SES event that opens
    like a record of its own (``{"eventType"`` inside ``detail``). A record a chunk
    ends inside is read whole once the next chunk comes, not taken as cut short at
    that nested opening (which lost about a record a MiB)."""
    from sesd.commands.replay.archive import _values

    events = [f.delivery([f"u{i}@x.example"], message_id=f"m{i}") for i in range(6000)]
    records = [json.loads(f.eventbridge(event)) for event in events]
    data = b"".join(json.dumps(r, separators=(",", ":")).encode() for r in records)
    assert len(data) > 4 * MAX_BODY
    chunks = iter([data[i : i + size] for i in range(0, len(data), size)])
    out = [json.loads(b) for b in _values(chunks)]
    assert out == records


def test_a_firehose_record_too_large_is_skipped_and_the_next_ones_read() -> None:
    """A record over the body limit among records back to back (its strings holding
    `}{` and braces) is counted once; the records before and after it on the same
    line, and on the next line, are all read."""
    from sesd.commands.replay.archive import _values

    before = [f.delivery([f"a{i}@x.example"]) for i in range(2000)]
    huge = f.delay(["big@x.example"], diagnostic="}{" * (MAX_BODY // 2))
    huge["nested"] = {"deep": [{"x": "}{"}]}
    after = [f.delivery([f"b{i}@x.example"]) for i in range(3)]
    last = f.delivery(["c@x.example"])
    line = b"".join(json.dumps(r).encode() for r in [*before, huge, *after])
    data = line + b"\n" + json.dumps(last).encode() + b"\n"
    chunks = iter([data[i : i + 65536] for i in range(0, len(data), 65536)])
    out = list(_values(chunks))
    assert [b is TOO_LARGE for b in out] == [False] * 2000 + [True] + [False] * 4
    assert [json.loads(b) for b in out if b is not TOO_LARGE] == [
        *before,
        *after,
        last,
    ]


@pytest.mark.parametrize("where", ["detail", "before_detail"])
def test_an_eventbridge_record_too_large_is_counted_once_and_the_next_one_read(
    where: str,
) -> None:
    """EventBridge records back to back on one line, one over the body limit, made so by
    its event's diagnostic or by a field before its event: that record is counted too
    large once, at its start, and the record after it is read. (Its scan for an end
    stopped at the limit, so the record was taken as never closed and cut at the
    opening of the SES event nested in it: either its head came out as an invalid value
    of its own, or its event was replayed and the next record lost, read as one
    invalid value with the brace that closed the large one.)"""
    from sesd.commands.replay.archive import _values

    records = [json.loads(f.eventbridge(f.delivery([f"u{i}@x.example"]))) for i in range(3)]
    if where == "detail":
        huge = json.loads(f.eventbridge(f.delay(["big@x.example"], diagnostic="d" * MAX_BODY)))
    else:
        huge = json.loads(f.eventbridge(f.delivery(["big@x.example"])))
        huge["resources"] = ["r" * MAX_BODY]
    line = b"".join(
        json.dumps(r, separators=(",", ":")).encode() for r in (records[0], huge, records[1])
    )
    data = line + b"\n" + json.dumps(records[2]).encode() + b"\n"
    out = list(_values(data[i : i + 65536] for i in range(0, len(data), 65536)))
    assert [b is TOO_LARGE for b in out] == [False, True, False, False]
    assert [json.loads(b) for b in out if b is not TOO_LARGE] == records


def test_event_lines_pass_as_they_are_and_wrappers_are_opened() -> None:
    """A line that is an SES event or an SNS notification is the body, byte for byte
    (the pipeline decodes it); an SQS message's ``Body`` and an SQS dump's
    ``Messages`` are opened; a line that is not JSON is passed on to be counted. Each
    body comes with the offset of its line's first byte that is not white space (the
    bodies of one line share it)."""
    from sesd.commands.replay.json_stream import lines

    event = json.dumps(f.delivery(["u@x.example"]), separators=(", ", ": ")).encode()
    notification = f.sns(f.delivery(["v@x.example"])).encode()
    message = json.dumps({"MessageId": "1", "Body": event.decode()}).encode()
    dump = json.dumps({"Messages": [{"Body": "a"}, {"Body": "b"}]}).encode()
    broken = b'{"eventType": "Delivery", "mail":'
    given = [event, b"  ", notification, b" " + message, dump, broken]
    got = list(lines(given, 100))
    assert [body for _, body in got] == [event, notification, event, b"a", b"b", broken]
    starts = [100 + sum(len(line) + 1 for line in given[:i]) for i in range(len(given))]
    starts[3] += 1  # after the space that opens the line
    assert [at for at, _ in got] == [starts[i] for i in (0, 2, 3, 4, 4, 5)]


def _stream(*parts: bytes | tuple[bytes, int]) -> tuple[bytes, list[int]]:
    """The bytes of ``parts`` joined, and the offset of each value in them: a part
    given as (value, n) is a value that holds n bodies."""
    data, offsets = b"", []
    for part in parts:
        if isinstance(part, tuple):
            offsets += [len(data)] * part[1]
            part = part[0]
        data += part
    return data, offsets


_EVENT = json.dumps({"eventType": "Delivery", "mail": {"messageId": "m"}}).encode()
_DUMP = json.dumps({"Messages": [{"Body": "a"}, {"Body": "b,]"}]}, indent=2).encode()
_FORMS = {
    # One a line: a byte-order mark, blank lines, indented and CRLF lines, a line that
    # is not JSON, a last line with no newline.
    "lines": _stream(
        b"\xef\xbb\xbf\n",
        (_EVENT, 1),
        b"\n\n  ",
        (b'{"n": 1}', 1),
        b"\r\n",
        (b"not json", 1),
        b"\n",
        (b'{"Body": "x"}', 1),
    ),
    # Firehose: objects back to back, one cut short before the next record.
    "firehose": _stream(
        (_EVENT, 1),
        (b'{"n": 2}', 1),
        (b'{"eventType": "Bounce", "x"', 1),
        (_EVENT, 1),
        b"\n",
        (b'{"n": 3}', 1),
        b"\n",
    ),
    # An array, indented, one element an SQS dump (two bodies), then a line after it.
    "array": _stream(
        b"  [\n  ",
        (_EVENT, 1),
        b",\n  ",
        (_DUMP, 2),
        b" , ",
        (b'"s"', 1),
        b"\n]\n",
        (b'{"n": 4}', 1),
        b"\n",
    ),
    # Firehose: the line ends inside an object (cut short), then a line after it.
    "firehose_cut": _stream(
        (_EVENT, 1),
        (b'{"n": 2}', 1),
        (b'{"eventType": "Bounce", "x"', 1),
        b"\n",
        (b'{"n": 3}', 1),
        b"\n",
    ),
    # Two SQS dumps as the AWS CLI writes them, one after another (`jq .`).
    "documents": _stream(b"\n", (_DUMP, 2), b"\n", (_DUMP, 2), b"\n"),
}


@pytest.mark.parametrize("form", sorted(_FORMS))
@pytest.mark.parametrize("size", [1, 2, 7, 13, 64, 1 << 20])
def test_each_body_comes_with_the_offset_where_its_value_starts(form: str, size: int) -> None:
    """Whatever form the input takes and wherever its chunks end, each body comes with
    the byte offset in the stream of the first byte of the value it was read from (an
    SQS dump's bodies share the dump's): where `tail -c` or `dd` finds a value that
    would not decode. Chunks of a byte or two are a pipe's reads when its writer is
    slow: the first ones hold part of a byte-order mark, or a ``{`` that may open an
    indented document or the first of the events."""
    from sesd.commands.replay.archive import _placed
    from sesd.commands.replay.json_stream import Chunks

    data, offsets = _FORMS[form]
    out = list(_placed(Chunks(data[i : i + size] for i in range(0, len(data), size))))
    assert [at for at, _ in out] == offsets


@pytest.mark.parametrize("opening", [b'{"eventType": "Send", "pad": "', b'{"pad": "'])
@pytest.mark.parametrize(("size", "read"), [(MAX_BODY, True), (MAX_BODY + 1, False)])
def test_a_line_of_exactly_max_body_bytes_is_read(opening: bytes, size: int, read: bool) -> None:
    """A value a line of exactly MAX_BODY bytes, an event's or any other, is read
    whole; a byte more, it is skipped and counted as too large."""
    from sesd.commands.replay.archive import _placed
    from sesd.commands.replay.json_stream import Chunks

    value = opening + b"x" * (size - len(opening) - 2) + b'"}'
    assert len(value) == size
    data = value + b"\n" + _EVENT + b"\n"
    out = list(_placed(Chunks(data[i : i + 4096] for i in range(0, len(data), 4096))))
    assert out == [(0, value if read else TOO_LARGE), (size + 1, _EVENT)]


@pytest.mark.parametrize("form", ["line", "firehose", "element"])
def test_a_value_too_large_is_placed_where_it_starts(form: str) -> None:
    """A value over MAX_BODY, skipped as it is read (a line, objects back to back on a
    line longer than a chunk, an array's element), is counted at the offset where it
    starts, and the values after it at theirs."""
    from sesd.commands.replay.archive import _placed
    from sesd.commands.replay.json_stream import Chunks

    huge = json.dumps({"eventType": "Send", "pad": "x" * MAX_BODY}).encode()
    small = [json.dumps({"eventType": "Send", "n": i}).encode() for i in range(2000)]
    if form == "line":
        data, offsets = _stream((_EVENT, 1), b"\n ", (huge, 1), b"\n", (_EVENT, 1), b"\n")
    elif form == "firehose":
        data, offsets = _stream(*((s, 1) for s in small), (huge, 1), (_EVENT, 1), b"\n")
    else:
        data, offsets = _stream(b"[", (_EVENT, 1), b", ", (huge, 1), b", ", (_EVENT, 1), b"]")
    out = list(_placed(Chunks(data[i : i + 4096] for i in range(0, len(data), 4096))))
    assert [at for at, _ in out] == offsets
    assert [body is TOO_LARGE for _, body in out].index(True) == len(offsets) - 2
