"""An input whose reading stops short (a gzip cut short or damaged midway, a document
too large to read whole) is named with where it stopped: the offset reached in its
decompressed data, how much of the compressed file was read by then (or where the
document starts), in the ``--json`` document's ``stopped`` and on stderr; what was
read before it is replayed and counted."""

from __future__ import annotations

import gzip
import json
import random
import subprocess
import sys
import zlib
from pathlib import Path

import pytest

from sesd.commands.demo.localsqs import LocalSqs
from sesd.commands.main import main
from tests import factory as f


@pytest.fixture
def config(tmp_path: Path) -> Path:
    path = tmp_path / "sesd.toml"
    path.write_text("[providers]\nenabled = false\n")
    return path


def _lines(n: int, seed: int) -> list[bytes]:
    """``n`` events a line, all of one length, that compress poorly (random ids): a
    gzip of them spans many of gzip's reads."""
    rng = random.Random(seed)
    return [
        json.dumps(
            f.delivery([f"u{i:05d}@x.example"], message_id=f"{rng.getrandbits(128):032x}")
        ).encode()
        + b"\n"
        for i in range(n)
    ]


def _replay(config: Path, path: Path, capsys: pytest.CaptureFixture[str]) -> tuple[dict, str]:  # type: ignore[type-arg]
    assert main(["replay", "--config", str(config), "--json", str(path)]) == 3
    out, err = capsys.readouterr()
    return json.loads(out), err


def test_a_gzip_cut_short_says_where_and_replays_what_came_before(
    tmp_path: Path, config: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    """A .gz cut halfway (a copy that did not finish): every whole line decompressed
    from what is there is replayed, and the stop names the decompressed offset reached,
    the compressed bytes read (the whole file) and the start of the line it cut off,
    not replayed; stderr leads with the replay being partial."""
    lines = _lines(600, seed=1)
    whole = gzip.compress(b"".join(lines), mtime=0)
    cut = whole[: len(whole) // 2]
    path = tmp_path / "cut.jsonl.gz"
    path.write_bytes(cut)
    there = zlib.decompressobj(31).decompress(cut)  # all that can be read from it
    complete = len(there) // len(lines[0])
    assert 0 < complete < len(lines)
    dropped = len(there) - complete * len(lines[0])  # a line cut off
    assert dropped > 0

    document, err = _replay(config, path, capsys)
    assert document["messages"]["processed"] == complete
    assert document["stopped"] == [
        {
            "input": str(path),
            "byte_offset": len(there),
            "decompressed": True,
            "reason": "cut_short",
            "detail": "the compressed data ended before its gzip stream did",
            "values": complete,
            "compressed_offset": len(cut),
            "dropped_bytes": dropped,
            "read_to_end": False,
        }
    ]
    assert (
        f"sesd: replay read only part of {path}: stopped reading at byte offset {len(there)} "
        f"(decompressed), {len(cut)} compressed bytes read (cut_short: "
        "the compressed data ended before its gzip stream did); what came "
        f"before was replayed ({complete} values), but not the {dropped} bytes after its "
        "last whole value"
    ) in err.splitlines()


@pytest.mark.parametrize("cut", [0, 50])
def test_a_damaged_deflate_block_midway_says_where_and_replays_all_that_came_before(
    tmp_path: Path, config: Path, capsys: pytest.CaptureFixture[str], cut: int
) -> None:
    """A byte flipped at the start of a deflate block in mid-stream (its type made the
    reserved one), after the first half of the lines (and ``cut`` bytes of the next):
    zlib refuses it; every line decompressed before it is replayed, none lost with the
    read that holds the damage, the bytes of a line it cut are dropped, and the stop
    names the decompressed offset reached and the compressed bytes read, past the
    damage."""
    lines = _lines(1200, seed=2)
    half = len(lines) // 2
    before = b"".join(lines[:half]) + lines[half][:cut]
    packer = zlib.compressobj(9, zlib.DEFLATED, 31)
    # A full flush ends what comes before on a byte boundary: the next block starts there.
    first = packer.compress(before) + packer.flush(zlib.Z_FULL_FLUSH)
    rest = b"".join(lines)[len(before) :]
    data = bytearray(first + packer.compress(rest) + packer.flush())
    data[len(first)] |= 0b110  # the block's type: 3, reserved
    path = tmp_path / "damaged.jsonl.gz"
    path.write_bytes(bytes(data))

    document, err = _replay(config, path, capsys)
    [stop] = document["stopped"]
    assert (stop["input"], stop["decompressed"], stop["reason"]) == (str(path), True, "damaged")
    assert stop["detail"] == "Error -3 while decompressing data: invalid block type"
    assert len(first) < stop["compressed_offset"] <= len(data)
    assert (stop["byte_offset"], stop["values"], stop["dropped_bytes"]) == (len(before), half, cut)
    assert document["messages"]["processed"] == half
    line = (
        f"sesd: replay read only part of {path}: stopped reading at byte offset {len(before)} "
        f"(decompressed), {stop['compressed_offset']} compressed bytes read (damaged: Error -3 "
        f"while decompressing data: invalid block type); what came before was replayed ({half} "
        "values)"
    )
    assert line + (f", but not the {cut} bytes after its last whole value" if cut else "") in (
        err.splitlines()
    )


def test_a_bad_crc_at_the_end_is_named_where_the_data_ended(
    tmp_path: Path, config: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    """A gzip whose CRC does not match (a byte flipped in its trailer): every line was
    read and replayed; the stop is at the end of the decompressed data, the whole file
    read, and stderr says all of it was read but its check failed (not that it was
    read only in part)."""
    lines = _lines(50, seed=3)
    data = bytearray(gzip.compress(b"".join(lines), mtime=0))
    data[-6] ^= 0xFF  # in the CRC-32
    path = tmp_path / "crc.jsonl.gz"
    path.write_bytes(bytes(data))

    document, err = _replay(config, path, capsys)
    [stop] = document["stopped"]
    assert stop["reason"] == "check_failed"
    assert stop["detail"].startswith("the CRC-32 is 0x")
    assert (stop["byte_offset"], stop["compressed_offset"]) == (sum(map(len, lines)), len(data))
    assert document["messages"]["processed"] == stop["values"] == len(lines)
    assert (stop["dropped_bytes"], stop["read_to_end"]) == (0, True)
    assert (
        f"sesd: replay read all of {path} ({stop['byte_offset']} bytes decompressed from "
        f"{len(data)}), but its gzip check failed (the CRC-32 is 0x"
    ) in err
    assert err.rstrip().endswith(f"what it held was replayed ({len(lines)} values)")
    assert "only part" not in err


def test_a_bad_crc_in_a_stream_before_others_says_what_follows_was_not_read(
    tmp_path: Path, config: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    """Two gzip streams one after the other (as `cat a.gz b.gz` makes), the first's
    CRC wrong: its lines are replayed and reading stops at its end, and the report
    says the input was read only in part, the second stream not at all (not that all
    of it was read)."""
    first, second = _lines(30, seed=8), _lines(10, seed=9)
    damaged = bytearray(gzip.compress(b"".join(first), mtime=0))
    damaged[-6] ^= 0xFF  # in the CRC-32
    path = tmp_path / "two.jsonl.gz"
    path.write_bytes(bytes(damaged) + gzip.compress(b"".join(second), mtime=0))

    document, err = _replay(config, path, capsys)
    [stop] = document["stopped"]
    assert (stop["reason"], stop["read_to_end"]) == ("check_failed", False)
    assert stop["byte_offset"] == sum(map(len, first))
    assert document["messages"]["processed"] == stop["values"] == len(first)
    assert (
        f"sesd: replay read only part of {path}: the gzip check of a stream ending at byte "
        f"offset {stop['byte_offset']} (decompressed) failed (the CRC-32 is 0x"
    ) in err
    assert f"what came before was replayed ({len(first)} values)" in err
    assert "read all" not in err


def test_a_bad_length_with_no_last_newline_names_the_line_not_replayed(
    tmp_path: Path, config: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    """A gzip whose length does not match (its trailer's last byte flipped) and whose
    data ends with no newline: the check fails once all was read, and the last line,
    read but not ended, is said not to be replayed, with its length."""
    lines = _lines(20, seed=6)
    last = lines[-1].rstrip(b"\n")
    data = bytearray(gzip.compress(b"".join(lines[:-1]) + last, mtime=0))
    data[-1] ^= 0xFF  # in the length
    path = tmp_path / "length.jsonl.gz"
    path.write_bytes(bytes(data))

    document, err = _replay(config, path, capsys)
    [stop] = document["stopped"]
    length = sum(map(len, lines)) - 1
    assert stop["reason"] == "check_failed"
    said = length ^ 0xFF << 24  # the length's last byte is its highest
    assert stop["detail"] == f"the length is {length} bytes, its trailer says {said}"
    assert (stop["values"], stop["dropped_bytes"]) == (len(lines) - 1, len(last))
    assert f"sesd: replay read all of {path} (" in err
    assert err.rstrip().endswith(
        f"what it held was replayed ({len(lines) - 1} values), but not the {len(last)} "
        "bytes after its last whole value"
    )


def test_a_file_named_gz_that_is_not_gzip_says_so(
    tmp_path: Path, config: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    """Events a line, uncompressed, in a file named .gz: nothing is replayed, the stop's
    reason says it is not gzip, and stderr that it is not gzip data, not that a
    compressed file was damaged, and what to do when it is plain JSON: rename it.
    It said "read only part" of it, "what came before was replayed (0 values)"."""
    path = tmp_path / "plain.jsonl.gz"
    path.write_bytes(b"".join(_lines(5, seed=7)))

    document, err = _replay(config, path, capsys)
    [stop] = document["stopped"]
    assert (stop["reason"], stop["values"], stop["byte_offset"]) == ("not_gzip", 0, 0)
    assert stop["detail"] == "b'{\"' where a gzip header should start"
    assert (
        f"sesd: replay read none of {path}: it is not gzip data (b'{{\"' where a gzip "
        "header should start), though named .gz: if it is plain JSON, rename it without "
        ".gz and replay it"
    ) in err.splitlines()
    assert "compressed" not in err


def test_bytes_appended_to_a_gzip_stream_are_not_gzip_and_the_stream_is_replayed(
    tmp_path: Path, config: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    """Lines appended, uncompressed, to a gzipped file (``>>`` on the wrong file): the
    gzip stream's events are replayed, then the stop says what follows it is not gzip
    data, where the stream's data ended; a second gzip stream after the first is read
    as more of the same data."""
    lines = _lines(30, seed=8)
    packed = gzip.compress(b"".join(lines[:10]), mtime=0) + gzip.compress(
        b"".join(lines[10:20]), mtime=0
    )
    path = tmp_path / "appended.jsonl.gz"
    path.write_bytes(packed + b"".join(lines[20:]))

    document, err = _replay(config, path, capsys)
    [stop] = document["stopped"]
    assert (stop["reason"], stop["values"], stop["dropped_bytes"]) == ("not_gzip", 20, 0)
    assert stop["byte_offset"] == sum(map(len, lines[:20]))
    assert document["messages"]["processed"] == 20
    assert (
        f"sesd: replay read only part of {path}: what follows its gzip stream is not gzip "
        "data (b'{\"' where a gzip header should start); what came before was replayed "
        "(20 values)"
    ) in err.splitlines()


def test_a_gzip_header_naming_another_compression_is_damaged(tmp_path: Path) -> None:
    """A gzip header whose compression method is not deflate (the only one gzip
    defines): the input is damaged there, not read as anything."""
    from sesd.commands.replay.archive import bodies
    from sesd.commands.replay.inputs import Source

    packed = bytearray(gzip.compress(b"".join(_lines(3, seed=9)), mtime=0))
    packed[2] = 7
    path = tmp_path / "method.jsonl.gz"
    path.write_bytes(bytes(packed))
    source = Source(str(path))
    assert list(bodies([source])) == []
    assert source.stopped is not None
    assert (source.stopped.reason, source.stopped.at) == ("damaged", 0)
    assert source.stopped.detail == "a gzip header names compression method 7, not deflate"


def test_a_document_too_large_stops_where_it_starts(tmp_path: Path) -> None:
    """An indented document larger than the bound (read whole, it would be held whole)
    stops its input where it starts; the array before it was replayed. The bound is
    lowered here so that the test writes kilobytes, not 256 MiB."""
    from sesd.commands.replay.archive import bodies
    from sesd.commands.replay.inputs import Source, Stop

    head = b'[{"Body": "a"}, {"Body": "b"}]\n  '
    dump = {"Messages": [{"Body": "x" * 100} for _ in range(40)]}
    path = tmp_path / "dump.json"
    path.write_bytes(head + json.dumps(dump, indent=2).encode() + b"\n")
    source = Source(str(path))
    assert list(bodies([source], max_document=2048)) == [b"a", b"b"]
    assert source.values == 2
    assert source.stopped == Stop(
        "document_too_large",
        "one JSON document larger than 2048 bytes starts there: write the events a line "
        "each (newline-delimited JSON) to replay it",
        len(head),
    )
    assert path.read_bytes()[len(head) :].startswith(b"{\n")
    # Under the bound, the same document is read whole.
    fits = Source(str(path))
    assert len(list(bodies([fits], max_document=1 << 20))) == 42
    assert fits.stopped is None


def test_a_gzip_cut_short_on_a_pipe_says_how_much_of_it_was_read(
    tmp_path: Path, config: Path
) -> None:
    """On stdin (a pipe, which cannot tell its position) the compressed bytes read are
    counted all the same (an archive piped in, from ``aws s3 cp URL -``), and called
    compressed bytes, not a compressed file."""
    lines = _lines(300, seed=4)
    whole = gzip.compress(b"".join(lines), mtime=0)
    cut = whole[: len(whole) * 2 // 3]
    result = subprocess.run(
        [sys.executable, "-m", "sesd", "replay", "--config", str(config), "--json", "-"],
        input=cut,
        capture_output=True,
        check=False,
        timeout=60,
    )
    assert result.returncode == 3, result.stderr
    [stop] = json.loads(result.stdout)["stopped"]
    there = zlib.decompressobj(31).decompress(cut)
    assert (stop["input"], stop["reason"], stop["values"]) == (
        "-",
        "cut_short",
        len(there) // len(lines[0]),
    )
    assert (stop["byte_offset"], stop["compressed_offset"]) == (len(there), len(cut))
    err = result.stderr.decode()
    assert (
        f"sesd: replay read only part of -: stopped reading at byte offset {len(there)} "
        f"(decompressed), {len(cut)} compressed bytes read (cut_short: "
    ) in err
    assert "the compressed file" not in err


async def test_an_s3_object_cut_short_names_the_compressed_bytes_read(
    tmp_path: Path,
    local_sqs: LocalSqs,
    capsys: pytest.CaptureFixture[str],
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """A gzipped object on moto's S3 cut short (an upload that did not finish): the
    stop names it by its URL, the decompressed offset reached and the compressed bytes
    read, though an object's stream cannot tell its position."""
    import anyio

    from tests.conftest import aws_client

    lines = _lines(300, seed=5)
    whole = gzip.compress(b"".join(lines), mtime=0)
    cut = whole[: len(whole) // 2]
    async with aws_client("s3", local_sqs) as s3:
        await s3.create_bucket(Bucket="ses-archive")
        await s3.put_object(Bucket="ses-archive", Key="events/part-1.gz", Body=cut)
    config = tmp_path / "sesd.toml"
    config.write_text(f'[aws]\nendpoint_url = "{local_sqs.url}"\n[providers]\nenabled = false\n')
    monkeypatch.setenv("AWS_ACCESS_KEY_ID", "testing")
    monkeypatch.setenv("AWS_SECRET_ACCESS_KEY", "x")
    # By main(), in a thread of its own (its own event loop) while this loop serves
    # moto's S3: no interpreter starts (most of a second of CPU).
    command = ["replay", "--config", str(config), "--json", "s3://ses-archive/events/"]
    capsys.readouterr()
    code = await anyio.to_thread.run_sync(main, command)
    out, err = capsys.readouterr()
    assert code == 3, err[-2000:]
    [stop] = json.loads(out)["stopped"]
    there = zlib.decompressobj(31).decompress(cut)
    assert stop["input"] == "s3://ses-archive/events/part-1.gz"
    assert (stop["reason"], stop["values"]) == ("cut_short", len(there) // len(lines[0]))
    assert (stop["byte_offset"], stop["compressed_offset"]) == (len(there), len(cut))


def _bad_length(path: Path, data: bytes) -> Path:
    """``data`` gzipped with its trailer's length wrong: all of it is decompressed and
    read, then the check fails (so the stop comes with every byte read)."""
    packed = bytearray(gzip.compress(data, mtime=0))
    packed[-1] ^= 0xFF
    path.write_bytes(bytes(packed))
    return path


@pytest.mark.parametrize(
    ("form", "data", "replayed", "dropped"),
    [
        # Before its first line ends: the byte-order mark is of the line cut off.
        ("bom", b'\xef\xbb\xbf{"Body": "a", "n": 1', [], b'\xef\xbb\xbf{"Body": "a", "n": 1'),
        ("bom_lines", b'\xef\xbb\xbf{"Body": "a"}\n{"Body": "b", ', [b"a"], b'{"Body": "b", '),
        # In an array: the element cut off, from after the last comma (its space too).
        ("array", b'[{"Body": "a"}, {"Body": "b"}, {"Body": "c"', [b"a", b"b"], b' {"Body": "c"'),
        ("array_first", b'\xef\xbb\xbf[\n  {"Body": "a"', [], b'\n  {"Body": "a"'),
        ("array_at_comma", b'[{"Body": "a"}, ', [b"a"], b""),
        # An indented document is read whole: all of it, the white space before it too.
        ("document", b'\n{\n  "Messages": [\n    {"Body": "a"}\n  ]\n}\n', [], None),
        ("document_bom", b'\xef\xbb\xbf{\n  "Messages": []\n}', [], None),
    ],
)
def test_what_a_stop_drops_is_counted_in_any_form(
    tmp_path: Path, form: str, data: bytes, replayed: list[bytes], dropped: bytes | None
) -> None:
    """Reading stops after the last byte (a gzip whose length check fails): the bytes
    after the last whole value read (a line cut off with the byte-order mark before it,
    an array's element, an indented document read whole: ``None``, all of the data) are
    what the stop drops, counted exactly; the offset reached is the data's end."""
    from sesd.commands.replay.archive import bodies
    from sesd.commands.replay.inputs import Source

    dropped = data if dropped is None else dropped
    assert data.endswith(dropped)
    source = Source(str(_bad_length(tmp_path / f"{form}.json.gz", data)))
    assert list(bodies([source])) == replayed
    assert source.stopped is not None
    assert (source.stopped.at, source.stopped.dropped) == (len(data), len(dropped))
    assert source.values == len(replayed)


def test_gzip_is_read_as_gzip_reads_it() -> None:
    """Streams one after another, each header with every optional field (an extra
    field, a name, a comment, a header CRC), zeros after a stream: the data is what
    Python's gzip reads, at any read size; zeros before any stream are not gzip."""
    import io
    import struct

    from sesd.commands.replay.gunzip import Gunzip, NotGzip

    def stream(data: bytes) -> bytes:
        packer = zlib.compressobj(6, zlib.DEFLATED, -zlib.MAX_WBITS)
        header = b"\x1f\x8b\x08\x1e" + bytes(6) + b"\x03\x00xyz" + b"name\0" + b"note\0" + b"hc"
        body = packer.compress(data) + packer.flush()
        return header + body + struct.pack("<II", zlib.crc32(data), len(data))

    lines = b"".join(_lines(400, seed=10))
    packed = stream(lines[:1000]) + bytes(7) + gzip.compress(lines[1000:]) + stream(b"")
    assert gzip.decompress(packed) == lines
    for size in (1, 7, 4096, 1 << 20):
        reader, read = Gunzip(io.BytesIO(packed)), []
        while chunk := reader.read1(size):
            assert len(chunk) <= size
            read.append(chunk)
        assert (b"".join(read), reader.tell()) == (lines, len(packed))
    with pytest.raises(NotGzip):
        Gunzip(io.BytesIO(bytes(3) + packed)).read1(100)
