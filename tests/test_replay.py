"""``sesd replay``: recorded events through the same pipeline, with exact tallies."""

from __future__ import annotations

import gzip
import io
import json
import subprocess
import sys
from pathlib import Path

import pytest

from sesd.commands.main import main
from tests import factory as f

FIXTURE = Path(__file__).parent / "fixtures" / "replay.jsonl"


@pytest.fixture
def config(tmp_path: Path) -> Path:
    path = tmp_path / "sesd.toml"
    path.write_text("")
    return path


def replay_json(config: Path, *files: str, capsys: pytest.CaptureFixture[str]) -> dict:  # type: ignore[type-arg]
    assert main(["replay", "--config", str(config), "--json", *files]) == 0
    return json.loads(capsys.readouterr().out)  # type: ignore[no-any-return]


def test_exact_tallies(config: Path, capsys: pytest.CaptureFixture[str]) -> None:
    """Every recipient, outcome and window figure of the fixture is counted exactly."""
    document = replay_json(config, str(FIXTURE), capsys=capsys)
    assert document["domains"] == {
        "gmail.example": {"send": 2, "delivery": 4},
        "outlook.example": {"delivery": 2, "delivery_delay": 3},
        "yahoo.example": {"bounce": 1, "complaint": 1},
    }
    assert document["messages"] == {"processed": 10, "skipped": 2, "invalid": 2, "duplicate": 1}
    assert document["invalid"] == {"missing_mail": 1, "not_json": 1}
    assert document["alerts"] == []
    assert document["late_events"] == 0
    outlook = document["windows"]["outlook.example"]
    assert outlook["15m"]["delay_ratio"] == pytest.approx(3 / 5)
    assert outlook["15m"]["pending_delays"] == 2  # b1 was delivered after its delay
    assert document["windows"]["yahoo.example"]["1h"]["bounce_ratio"] == 1.0


def test_same_tallies_from_an_array_and_from_stdin(
    config: Path,
    tmp_path: Path,
    capsys: pytest.CaptureFixture[str],
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """A JSON array file and SQS receive-message output on stdin give the same figures."""
    bodies = FIXTURE.read_text().splitlines()
    array_file = tmp_path / "events.json"
    array_file.write_text(json.dumps([_as_json(b) for b in bodies], indent=2))
    expected = replay_json(config, str(FIXTURE), capsys=capsys)
    assert replay_json(config, str(array_file), capsys=capsys)["domains"] == expected["domains"]

    sqs_output = {"Messages": [{"MessageId": str(i), "Body": b} for i, b in enumerate(bodies)]}
    monkeypatch.setattr(sys, "stdin", io.TextIOWrapper(io.BytesIO(json.dumps(sqs_output).encode())))
    from_stdin = replay_json(config, "-", capsys=capsys)
    assert from_stdin["domains"] == expected["domains"]
    assert from_stdin["messages"] == expected["messages"]


def _as_json(body: str) -> object:
    try:
        return json.loads(body)
    except json.JSONDecodeError:
        return body


def test_text_report_and_logs_stay_on_stderr(
    config: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    """The text report goes to stdout; stdout holds no log lines. Run by ``main()``:
    an interpreter is half a second of CPU, for a replay of milliseconds."""
    assert main(["replay", "--config", str(config), str(FIXTURE)]) == 0
    out = capsys.readouterr().out
    assert "outlook.example" in out
    assert "messages: processed 10, skipped 2, invalid 2, duplicate 1" in out
    assert '"event"' not in out


@pytest.mark.parametrize(
    ("late", "said"),
    [
        (3, "replay counted 3 events in no window: they were further behind"),
        (1, "replay counted 1 event in no window: it was further behind"),
    ],
)
def test_events_behind_the_replays_clock_are_counted_and_said(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], late: int, said: str
) -> None:
    """Two regions' archives one after the other: the second's events are hours behind
    the first's last, so they count in no window and no rule sees them. The document
    counts them and stderr says why and what to do (of one event, in the singular: a
    newcomer's replay of a few samples read "1 events ... they were")."""

    config = tmp_path / "sesd.toml"
    config.write_text("")
    us = tmp_path / "us-east-1.jsonl"
    us.write_text(f.raw(f.delivery(["a@gmail.example"], at=f.T0 + 7200)) + "\n")
    eu = tmp_path / "eu-west-1.jsonl"
    eu.write_text("".join(f.raw(f.delay([f"d{i}@outlook.example"])) + "\n" for i in range(late)))
    assert main(["replay", "--config", str(config), "--json", str(us), str(eu)]) == 0
    captured = capsys.readouterr()
    document = json.loads(captured.out)
    assert document["domains"]["outlook.example"] == {"delivery_delay": late}
    assert document["late_events"] == late
    assert said in captured.err
    assert "Replay each archive on its own, or in time order." in captured.err


def test_alerts_fire_and_resolve_in_event_time(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    """A spike fires at the first evaluation tick that sees it and resolves when it leaves the
    window, both at event times, whatever the wall clock; the text report writes each
    alert's value as its metric's (a ratio in percent) beside the threshold's side."""

    config = tmp_path / "sesd.toml"
    config.write_text(
        '[[alerts.rules]]\nname = "delays"\nmetric = "delay_ratio"\nwindow = "5m"\n'
        "above = 0.2\nclear_below = 0.1\nmin_events = 5\n"
    )
    t0 = f.T0 + 2  # between two 5 s ticks
    lines = [f.sns(f.delay([f"d{i}@outlook.example"], at=t0, expires=t0 + 7200)) for i in range(6)]
    lines += [f.raw(f.delivery([f"ok{i}@outlook.example"], at=t0)) for i in range(4)]
    lines += [f.raw(f.delivery([f"n{i}@outlook.example"], at=t0 + 400)) for i in range(5)]
    events = tmp_path / "events.jsonl"
    # Applied in the order read, each at its own time: the spike's events out of order
    # among themselves (as an archive may be) count all the same.
    events.write_text("\n".join([*reversed(lines[:10]), *lines[10:]]) + "\n")
    document = replay_json(config, str(events), capsys=capsys)
    assert [(a["state"], a["at"], a["domain"]) for a in document["alerts"]] == [
        ("firing", f.iso(f.T0 + 5).replace(".000Z", "Z"), "outlook.example"),
        ("resolved", f.iso(f.T0 + 300).replace(".000Z", "Z"), "outlook.example"),
    ]
    assert document["alerts"][0]["value"] == pytest.approx(0.6)
    # The text report names the metric and writes a ratio as the alerts and the windows
    # table above it do: "value 0.6 (threshold 0.2, 5m)" beside a delay% column of
    # 60.0% was read as 0.6%.
    assert main(["replay", "--config", str(config), str(events)]) == 0
    text = capsys.readouterr().out
    assert (
        f"  {f.iso(f.T0 + 5).replace('.000Z', 'Z')}  FIRING   delays  outlook.example  "
        "delay_ratio 60.0% (above 20.0%, 5m window)\n"
    ) in text
    # Its resolve, of a figure under the threshold, says the rule's side of it, as the
    # resolve's own text does.
    (resolve,) = [line for line in text.splitlines() if "RESOLVED" in line]
    assert resolve.endswith("(fires above 20.0%, 5m window)"), resolve


def test_invalid_values_are_named_by_their_input_place_and_byte_offset(
    tmp_path: Path, config: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    """Two invalid values among a month of events are found by where they were read:
    the input, the value's place in it (its line, in a file of one event a line) and
    the byte offset where the value starts, in a plain file and in the decompressed
    data of a gzipped one, so that `tail -c +$((OFFSET + 1))` (after zcat) or dd
    shows it; the first ten are named, and every one is counted."""

    good = json.dumps(f.delivery(["a@gmail.example"], message_id="m1"))
    first = tmp_path / "a.jsonl"
    first.write_text(good + "\n" + '{"hello": 1}\n' + good.replace("m1", "m2") + "\n")
    second = tmp_path / "b.jsonl.gz"
    lines = [good.replace("m1", f"n{i}") for i in range(4)]
    lines[2] = "not json"
    second.write_bytes(gzip.compress("\n".join(lines).encode()))
    plain_at = len(good) + 1
    gzipped_at = len(lines[0]) + len(lines[1]) + 2
    main(["replay", "--config", str(config), "--json", str(first), str(second)])
    named = json.loads(capsys.readouterr().out)["invalid_values"]
    assert [
        (v["input"], v["value"], v["byte_offset"], v["decompressed"], v["reason"]) for v in named
    ] == [
        (str(first), 2, plain_at, False, "unrecognised"),
        (str(second), 3, gzipped_at, True, "not_json"),
    ]
    assert first.read_bytes()[plain_at:].startswith(b'{"hello": 1}\n')
    assert gzip.decompress(second.read_bytes())[gzipped_at:].startswith(b"not json\n")

    assert main(["replay", "--config", str(config), str(first), str(second)]) == 0
    out = capsys.readouterr().out
    assert (
        f"  {first}, value 2, byte offset {plain_at}: unrecognised: "
        "no eventType or notificationType" in out
    )
    assert (
        f"  {second}, value 3, byte offset {gzipped_at} (decompressed): not_json: "
        "body is not JSON" in out
    )

    many = tmp_path / "many.jsonl"
    many.write_text("".join(json.dumps({"n": i}) + "\n" for i in range(12)) + good + "\n")
    main(["replay", "--config", str(config), "--json", str(many)])
    document = json.loads(capsys.readouterr().out)
    assert document["messages"]["invalid"] == 12
    assert [v["value"] for v in document["invalid_values"]] == list(range(1, 11))


def test_totals_count_every_event_whatever_the_rules_or_eviction() -> None:
    """A domain and a tenant quiet for longer than idle_evict are evicted during the
    replay and seen again: the per-domain and per-tenant totals still count every
    recipient replayed, and are the same with rules as without."""
    from sesd.commands.replay.engine import Replay
    from sesd.config import parse_config

    day = 86400.0
    tenant = {"ses:tenant-name": ["acme"]}
    events = [f.delivery([f"u{i}@first.example"], at=f.T0 + i, tags=tenant) for i in range(5)]
    beta = {"ses:tenant-name": ["beta"]}
    events += [
        f.delivery(["d@daily.example"], at=f.T0 + 43200 + n * day, tags=beta) for n in range(3)
    ]
    events.append(f.delivery(["z@first.example"], at=f.T0 + 2 * day + 46800, tags=tenant))
    events.sort(key=lambda event: str(event["delivery"]["timestamp"]))
    bodies = [f.raw(event).encode() for event in events]
    base = '[domains]\nidle_evict = "1h"\n[tenants]\nenabled = true\n'
    rules = 'name = "delays"\nmetric = "delay_ratio"\nwindow = "5m"\nabove = 0.2\n'
    documents = []
    for toml in (base, base + "[[alerts.rules]]\n" + rules):
        replay = Replay(parse_config(toml))
        replay.run(bodies)
        documents.append(replay.document())
    with_rules, without = documents
    assert with_rules["domains"] == {
        "daily.example": {"delivery": 3},
        "first.example": {"delivery": 6},
    }
    assert with_rules["tenants"] == {"acme": {"delivery": 6}, "beta": {"delivery": 3}}
    for key in ("domains", "providers", "tenants", "messages"):
        assert with_rules[key] == without[key]


def test_many_empty_inputs_are_named_twenty_then_counted(
    config: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    """A day of hourly files that a failed export left empty: the line that says no
    value was read named every one of them, a line as long as the listing. It names
    the first 20 and counts the others, as the inputs skipped are."""
    day = tmp_path / "day"
    day.mkdir()
    for hour in range(24):
        (day / f"{hour:02d}.jsonl").write_bytes(b"")
    assert main(["replay", "--config", str(config), str(day)]) == 3
    line = next(x for x in capsys.readouterr().err.splitlines() if "read no value" in x)
    assert f"{day / '19.jsonl'} and 4 more inputs held nothing" in line
    assert "20.jsonl" not in line


@pytest.mark.parametrize(
    ("name", "data"),
    [
        ("empty.jsonl", b""),
        ("nothing.jsonl.gz", gzip.compress(b"")),
        ("zero-bytes.jsonl.gz", b""),
        ("blank.jsonl", b"\n  \n\r\n\t\n"),
    ],
    ids=["empty", "gzip-of-nothing", "zero-byte-gz", "blank-lines"],
)
def test_an_empty_input_exits_3_and_says_so(
    config: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str], name: str, data: bytes
) -> None:
    """An input with no value in it is the wrong input (a failed download, say), not a
    quiet month: exit 3, with why on stderr; --json still prints its document."""
    path = tmp_path / name
    path.write_bytes(data)
    for extra in ([], ["--json"]):
        assert main(["replay", "--config", str(config), *extra, str(path)]) == 3
        out, err = capsys.readouterr()
        assert f"sesd: replay read no value: {path} held nothing" in err
        if extra:
            assert json.loads(out)["messages"]["processed"] == 0


def test_nothing_on_stdin_exits_3_and_says_so(config: Path) -> None:
    """`-` with a writer that wrote nothing (an `aws s3 cp ... -` that failed)."""
    result = subprocess.run(
        [sys.executable, "-m", "sesd", "replay", "--config", str(config), "--json", "-"],
        stdin=subprocess.DEVNULL,
        capture_output=True,
        text=True,
        check=False,
        timeout=30,
    )
    assert result.returncode == 3
    assert "sesd: replay read no value: standard input held nothing" in result.stderr
    assert json.loads(result.stdout)["as_of"] is None


def test_a_closed_stdin_is_named_and_the_other_inputs_replayed(
    config: Path, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    """`-` given where there is no standard input at all (`<&-`, a job runner that
    closes it; Python then has no sys.stdin): it is an input that cannot be read, named
    on stderr as an unreadable file is, not a traceback; the other inputs are replayed,
    and the exit status is 3."""
    monkeypatch.setattr(sys, "stdin", None)
    assert main(["replay", "--config", str(config), "--json", "-", str(FIXTURE)]) == 3
    out, err = capsys.readouterr()
    assert "sesd: replay skipped -: cannot read: standard input is closed" in err
    assert json.loads(out)["messages"]["processed"] == 10


@pytest.mark.parametrize("encoding", ["utf-16", "utf-16-le", "utf-16-be"])
def test_a_utf16_input_is_named_as_such(
    tmp_path: Path, config: Path, capsys: pytest.CaptureFixture[str], encoding: str
) -> None:
    """Windows PowerShell's `>` writes UTF-16 (`aws sqs receive-message > dump.json`):
    every value read is invalid, and saying only "body is not JSON" of a file that an
    editor shows as JSON sends the reader looking at the wrong thing. The invalid
    values say the input is UTF-16 and how to convert it; the exit status stays 3."""
    path = tmp_path / "dump.json"
    lines = [json.dumps(f.delivery([f"a{i}@gmail.example"], message_id=f"m{i}")) for i in (1, 2)]
    path.write_bytes("\r\n".join(lines).encode(encoding))
    assert main(["replay", "--config", str(config), "--json", str(path)]) == 3
    named = json.loads(capsys.readouterr().out)["invalid_values"]
    assert named
    for value in named:
        assert (
            "UTF-16 text: convert it to UTF-8, as iconv -f UTF-16 -t UTF-8 does" in value["detail"]
        )
    assert main(["replay", "--config", str(config), str(path)]) == 3
    assert "UTF-16 text: convert it to UTF-8" in capsys.readouterr().out

    # A run of zeros (a preallocated tail) after UTF-8 events is no UTF-16.
    zeros = tmp_path / "zeros.jsonl"
    zeros.write_bytes(lines[0].encode() + b"\n" + bytes(3000))
    main(["replay", "--config", str(config), "--json", str(zeros)])
    assert [v["detail"] for v in json.loads(capsys.readouterr().out)["invalid_values"]] == [
        "body is not JSON"
    ]


def test_the_summary_of_a_utf16_input_says_so_once(
    tmp_path: Path, config: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    """A UTF-16 dump replayed without --json: the one line on stderr said only "2 not
    SES events (see the invalid counts)", the advice to convert the file left in the
    report's list of invalid values, which a script or a reader of stderr does not
    see. The line names the input and says how to convert it, once however many values."""
    path = tmp_path / "dump.json"
    lines = [json.dumps(f.delivery([f"a{i}@gmail.example"], message_id=f"m{i}")) for i in (1, 2)]
    path.write_bytes("\r\n".join(lines).encode("utf-16"))
    assert main(["replay", "--config", str(config), str(path)]) == 3
    err = capsys.readouterr().err
    assert err.count("UTF-16 text") == 1
    assert err == (
        "sesd: replay processed no event: of the values read, 2 not SES events (see the "
        f"invalid counts); {path}: UTF-16 text: convert it to UTF-8, as iconv -f UTF-16 -t "
        "UTF-8 does\n"
    )


def test_a_utf16_input_among_others_is_said_and_exits_3(
    tmp_path: Path, config: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    """A day's dump written by PowerShell among days in UTF-8: the others replayed, its
    values counted invalid, and stderr said nothing, exit 0: a day short without a
    word. One line names it and how to convert it; the exit status is 3, as for an
    input that could not be read."""
    good, dump = tmp_path / "good.jsonl", tmp_path / "dump.json"
    good.write_text(json.dumps(f.delivery(["a@gmail.example"], message_id="g")) + "\n")
    dump.write_bytes(json.dumps(f.delivery(["b@gmail.example"], message_id="d")).encode("utf-16"))
    assert main(["replay", "--config", str(config), "--json", str(good), str(dump)]) == 3
    out, err = capsys.readouterr()
    assert json.loads(out)["messages"]["processed"] == 1
    assert err == (
        f"sesd: replay could not read {dump}: UTF-16 text: convert it to UTF-8, as iconv -f "
        "UTF-16 -t UTF-8 does (its values are counted invalid)\n"
    )


def test_input_names_are_shown_whole_with_their_control_characters_escaped(
    tmp_path: Path, config: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    """An input's name is the user's (a file, an S3 key): the report hid one with an
    `@` as `[address]` (`noreply@example.com-11.jsonl`: which file had the invalid
    value?), while stderr printed names raw, so a key or file name with a terminal's
    escape sequence in it drove the terminal. Both show the name whole, its control
    characters escaped."""
    named = tmp_path / "noreply@example.com-11.jsonl"
    named.write_text('{"hello": 1}\n' + json.dumps(f.delivery(["a@x.example"])) + "\n")
    dark = tmp_path / "a\x1b[31mred"
    dark.mkdir()
    assert main(["replay", "--config", str(config), str(named), str(dark)]) == 3
    out, err = capsys.readouterr()
    assert f"  {named}, value 1, byte offset 0: unrecognised" in out
    assert "\x1b" not in err
    assert f"sesd: replay skipped {tmp_path}/a\\u001b[31mred: no files in this directory" in err

    empty = tmp_path / "b\x1b[2Jempty.jsonl"
    empty.write_text("")
    assert main(["replay", "--config", str(config), str(empty)]) == 3
    err = capsys.readouterr().err
    assert "\x1b" not in err
    assert f"read no value: {tmp_path}/b\\u001b[2Jempty.jsonl held nothing" in err
