"""A refused config names the line of the key it is about, ``sesd.toml:7:``, as a
compiler names one an editor jumps to: in a file of three hundred lines, a key's
dotted path (``queues[1].concurrency``) is a count of headers to do by hand. Each
case writes the key in one of TOML's shapes (a table, a list of tables by its index,
an inline table, dotted keys, quoted keys, a value of many lines before it), and
pads the file with blank lines and comments, so no shape's line is the first guess."""

from __future__ import annotations

import argparse
import json
import tomllib
from pathlib import Path
from typing import Any

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from sesd.commands import check_config
from sesd.commands.common import EXIT_CONFIG
from sesd.config import ConfigError, load_config
from sesd.config.toml_layout import KeyLines, Placer
from sesd.config.values import toml_key

pytestmark = pytest.mark.timeout(30)

Q = '[[queues]]\nurl = "https://sqs.us-east-1.amazonaws.com/1/q"\n'
R = '[[alerts.rules]]\nname = "r"\nmetric = "delay_ratio"\nwindow = "5m"\nabove = 0.1\n'

CASES = [
    # A table's key, after blank lines and a comment.
    (Q + "\n# the port\n[http]\n\nlisten = 1\n", "7: http.listen: Expected `str`, got `int`"),
    # A list of tables by its index: the second [[queues]], not the first.
    (Q + 'name = "a"\n\n[[queues]]\nurl = "https://sqs.us-east-1.amazonaws.com/1/r"\n'
     "vizibility_timeout = 30\n", "7: queues[1].vizibility_timeout: unknown key (did you mean "
     "visibility_timeout?)"),
    # A key each entry repeats: the entry's own, not the first one written.
    (Q + 'concurrency = 2\n[[queues]]\nurl = "https://sqs.us-east-1.amazonaws.com/1/r"\n'
     'concurrency = "2"\n', "6: queues[1].concurrency: Expected `int`, got `str`"),
    # A table of a list's entry, under its last entry's header.
    (Q + "\n" + R + '[alerts.rules.labels]\nteam = "a"\n' + R.replace('"r"', '"s"')
     + "[alerts.rules.labels]\n\nteam = 1\n", "18: alerts.rules[1] (s).labels.team: Expected "
     "`str`, got `int`"),
    # A rule by its index and name, the second of two.
    (Q + R.replace('"r"', '"a"') + R.replace('"r"', '"b"').replace('"5m"', '"7m"'), "11: "
     "alerts.rules[1] (b).window: '7m' is not one of windows.sizes (5m, 15m, 1h)"),
    # Inline tables, one in another.
    (Q + '[alerts]\nsinks = { ops = { type = "slak" } }\n', "4: alerts.sinks.ops.type: give "
     "one of slack, pagerduty, alertmanager, webhook, console (got 'slak'; did you mean "
     "slack?)"),
    # An array of many lines in an inline table: the line of the entry.
    (Q + '[domains]\ngroups = { a = [\n  "a.com",\n  5,\n] }\n', "6: domains.groups.a[1]: "
     "Expected `str`, got `int`"),
    # An array of many lines, a comment among its entries that looks like one.
    (Q + '[domains]\ntrack = [\n  "a.com",\n  # 5,\n  "b.com",\n  5,\n]\n', "8: "
     "domains.track[2]: Expected `str`, got `int`"),
    # An array of inline tables: the list of tables written another way.
    ('queues = [\n  { url = "https://sqs.us-east-1.amazonaws.com/1/q" },\n  { url = """\n'
     'https://sqs.us-east-1.amazonaws.com/1/r""", concurrency = "x" },\n]\n', "4: "
     "queues[1].concurrency: Expected `int`, got `str`"),
    # Dotted keys, before any header and in a table.
    ("\nhttp.listen = 1\n" + Q, "2: http.listen: Expected `str`, got `int`"),
    (Q + '[alerts]\nslack.webhook_url = "https://h.example/x"\nslack.timeout = "soon"\n', "5: "
     "alerts.slack.timeout: invalid duration 'soon' (use e.g. '10s', '5m', '1h30m')"),
    (Q + '[alerts]\n"slack" . timeout = "soon"\n', "4: alerts.slack.timeout: invalid duration "
     "'soon' (use e.g. '10s', '5m', '1h30m')"),
    # Values of many lines before the key, holding what reads as a header or a key.
    (Q + '[alerts]\ndashboard_url = """\\\n  https://g.example/d/\\\n  [aws]"""\n[windows]\n'
     'sizes = ["5m", 6]\n', "8: windows.sizes[1]: 6s is shorter than the resolution (10s)"),
    (Q + "[alerts]\ndashboard_url = '''\nhttps://g.example/d/'''\n# [aws]\n[windows]\n"
     'sizes = ["5m", 6]\n', "8: windows.sizes[1]: 6s is shorter than the resolution (10s)"),
    # Quoted keys, in a header: a dot or a space in a sink's name.
    (Q + '[alerts.sinks."a.b"]\ntype = "slak"\n', '4: alerts.sinks."a.b".type: give one of '
     "slack, pagerduty, alertmanager, webhook, console (got 'slak'; did you mean slack?)"),
    (Q + "[alerts.sinks.'x y']\ntype = \"console\"\n\ncolour = 1\n", '6: alerts.sinks."x y".'
     "colour: unknown key"),
    # A table only a header implies (``[alert.slack]``): that header's line.
    (Q + "\n[alert.slack]\nwebhook_url = \"x\"\n", "4: alert: unknown key (did you mean "
     "alerts?)"),
    (Q + '[http]\nlisten = "127.0.0.1:9585"\n[sinks.chat]\ntype = "slack"\n', "5: sinks: "
     "unknown key (did you mean alerts.sinks?)"),
    # A table, by its header: the error names the rule, and no key of it.
    (Q + "\n" + R + 'domains = ["*"]\nproviders = ["*"]\n', "4: alerts.rules[0] (r): give "
     "`domains` or `providers`, not both"),
    # No TOML: where tomllib stopped, its line and column, the reason after them.
    ("[windows\n", "1:9: not valid TOML: Expected ']' at the end of a table declaration"),
    (Q + "\n# the port\n[http]\n\nlisten = 127.0.0.1:9585\n", "7:15: not valid TOML: Expected "
     "newline or end of document after a statement"),
    (Q + '[alerts]\nslack.webhook_url = "x"\n\nslack . webhook_url = "y"\n', "6:26: not valid "
     "TOML: alerts.slack.webhook_url given twice: a key is given once in its table"),
    # At the end of the document, a string never closed: past its last character.
    (Q + "[alerts]\ndashboard_url = '''\nhttps://g.example/d/\n", "6:1: not valid TOML: "
     'Expected "\'\'\'"'),
]  # fmt: skip

#: Where the key is not written, there is no line to name: the message is as before.
UNPLACED = [
    ('[[queues]]\nname = "q"\n', "queues[0].url: required, and not given"),
    ("# no queue\n", "queues: at least one [[queues]] is needed"),
]  # fmt: skip


def _checked(text: str, tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> tuple[Path, str]:
    """What ``sesd check-config`` says of ``text`` (refused), after its file's name."""
    path = tmp_path / "sesd.toml"
    path.write_text(text, encoding="utf-8")
    args = argparse.Namespace(
        path=str(path), config=None, no_secrets=False, quiet=True, digest=False
    )
    assert check_config.execute(args) == EXIT_CONFIG
    err = capsys.readouterr().err
    head = f"sesd: config error: {path}"
    assert err.startswith(head), err
    return path, err[len(head) :].removesuffix("\n")


@pytest.mark.parametrize(("text", "error"), CASES)
def test_a_refused_key_is_named_by_its_line(
    text: str, error: str, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    """check-config names the file and the line the key sits on, then the key and why;
    a load (what run and a reload do) says the same."""
    path, said = _checked(text, tmp_path, capsys)
    assert said == f":{error}"
    with pytest.raises(ConfigError) as caught:
        load_config(path, daemon=True)
    assert str(caught.value) == f"{path}:{error}"


@pytest.mark.parametrize(("text", "error"), UNPLACED)
def test_a_key_not_written_names_no_line(
    text: str, error: str, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    """A key left out is said after the file's name alone."""
    _, said = _checked(text, tmp_path, capsys)
    assert said == f": {error}"


def test_a_document_whose_lines_cannot_be_read_is_still_loaded_and_warned_of(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    """A line is a help: a document shape the reading of lines does not know (here: it
    raises) still loads, and its warnings and errors are said without a line, not as a
    traceback at a daemon's start or reload."""

    def unknown(self: KeyLines, text: str) -> None:
        if text:
            raise IndexError("a shape not foreseen")
        self._lines = {}

    monkeypatch.setattr(KeyLines, "__init__", unknown)
    path = tmp_path / "sesd.toml"
    path.write_text(
        '[[queues]]\nurl = "https://sqs.us-east-1.amazonaws.com/1/q"\nvisibility_timeout = 0\n'
        '[windows]\nsizes = ["5m"]\n[alerts]\nrepeat_interval = 4\n',
        encoding="utf-8",
    )
    load_config(path, daemon=True)
    args = argparse.Namespace(
        path=str(path), config=None, no_secrets=False, quiet=True, digest=False
    )
    assert check_config.execute(args) == 0
    said = capsys.readouterr().err
    assert "sesd: warning: queues[0].visibility_timeout: 0 shows" in said, said
    path.write_text('[[queues]]\nurl = "https://sqs.us-east-1.amazonaws.com/1/q"\nbogus = 1\n')
    with pytest.raises(ConfigError) as caught:
        load_config(path, daemon=True)
    assert str(caught.value).startswith(f"{path}: queues[0]"), caught.value


@pytest.mark.timeout(5)
@pytest.mark.parametrize("text", ["a = [}", "a = {b = [1, }", "[t]\nb = [\n  }\n]\n"])
def test_text_that_is_no_toml_ends_its_reading_of_lines(text: str) -> None:
    """The placer is made on a document tomllib read, but its reading of lines is a help
    that must end whatever it is given: on a value that is none (``}`` in an array) it
    stood on that character for ever, and a start or a reload with it."""
    with pytest.raises(tomllib.TOMLDecodeError):
        tomllib.loads(text)
    placer = Placer("sesd.toml", text)
    assert placer.line("a: no such key") is None
    assert placer.where("t.b: no such key") == "sesd.toml"


def test_a_warning_is_named_by_its_line(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    """check-config's warnings name the line as its errors do: here the second queue of
    an array of inline tables; a warning of a key not written (no rule) names none."""
    path = tmp_path / "sesd.toml"
    path.write_text(
        'queues = [\n  { url = "https://sqs.us-east-1.amazonaws.com/1/q" },\n'
        '  { url = "https://sqs.us-east-1.amazonaws.com/1/r", visibility_timeout = 0 },\n]\n',
        encoding="utf-8",
    )
    args = argparse.Namespace(
        path=str(path), config=None, no_secrets=False, quiet=True, digest=False
    )
    assert check_config.execute(args) == 0
    said = capsys.readouterr().err.splitlines()
    assert [line for line in said if "visibility_timeout" in line] == [
        f"sesd: warning: {path}:3: queues[1].visibility_timeout: 0 shows each message again "
        "as it is received: other pollers take it again while it is handled, and an invalid "
        "one left in the queue comes back at once, receive after receive; leave it unset (the "
        "queue's own) or give the seconds a message takes to handle and delete"
    ]
    assert "sesd: warning: alerts.rules: none configured" in "\n".join(said)


# --- the lines of any document ---------------------------------------------------

#: Key names, bare and not: a dot, a space, a bracket, a quote or a '#' in one is quoted.
_NAMES = st.sampled_from(["a", "b-c", "d_1", "a.b", "x y", "r]s", 'q"t', "h#i", "k=v"])
#: Strings, one of them of lines that read as a header, a key and a comment.
_STRINGS = st.sampled_from(["s", "a # b", "[x]\ny = 1\n# z", "'''", 'say "hi"'])
_SCALARS = st.one_of(st.integers(-5, 5), st.booleans(), _STRINGS)
_VALUES = st.recursive(
    _SCALARS,
    lambda inner: (
        st.lists(inner, min_size=1, max_size=3)
        | st.dictionaries(_NAMES, inner, min_size=1, max_size=3)
    ),
    max_leaves=12,
)
_DOCUMENTS = st.dictionaries(_NAMES, _VALUES, min_size=1, max_size=4)


class _Writer:
    """A TOML document of ``data``, each table written in a shape ``draw`` picks (a
    header, a list of tables, an inline table, dotted keys), noting each key's line as
    it writes it: what the reading is held to."""

    def __init__(self, draw: st.DrawFn) -> None:
        self.draw = draw
        self.text = ""
        self.lines: dict[str, int] = {}

    def _line(self) -> int:
        return self.text.count("\n") + 1

    def _note(self, said: str) -> None:
        self.lines.setdefault(said, self._line())

    def table(self, data: dict[str, Any], path: list[str], said: str) -> None:
        """``data`` as the body of the table ``path`` (headers for those that may
        have one), ``said`` its key as a message says it."""
        later = []
        for name, value in data.items():
            key = f"{said}.{toml_key(name)}" if said else toml_key(name)
            tables = isinstance(value, list) and value and all(isinstance(v, dict) for v in value)
            if isinstance(value, dict) and self.draw(st.booleans()):
                later.append(("[", name, value, key))
            elif tables and self.draw(st.booleans()):
                later.append(("[[", name, value, key))
            elif isinstance(value, dict) and self.draw(st.booleans()):
                self._dotted(value, [name], key)
            else:
                self._note(key)
                self.text += f"{toml_key(name)} = "
                self._value(value, key)
                self.text += "\n"
        for shape, name, value, key in later:
            header = ".".join(map(toml_key, [*path, name]))
            if shape == "[":
                self._note(key)
                self.text += f"[{header}]\n"
                self.table(value, [*path, name], key)
                continue
            for index, entry in enumerate(value):
                self._note(key)
                self._note(f"{key}[{index}]")
                self.text += f"[[{header}]]\n"
                self.table(entry, [*path, name], f"{key}[{index}]")

    def _dotted(self, data: dict[str, Any], parts: list[str], said: str) -> None:
        for name, value in data.items():
            key = f"{said}.{toml_key(name)}"
            if isinstance(value, dict):
                self._note(said)
                self._dotted(value, [*parts, name], key)
                continue
            self._note(said)
            self._note(key)
            self.text += ".".join(map(toml_key, [*parts, name])) + " = "
            self._value(value, key)
            self.text += "\n"

    def _value(self, value: Any, said: str) -> None:
        if isinstance(value, dict):
            self.text += "{ "
            for i, (name, item) in enumerate(value.items()):
                key = f"{said}.{toml_key(name)}"
                self._note(key)
                self.text += f"{', ' if i else ''}{toml_key(name)} = "
                self._value(item, key)
            self.text += " }"
        elif isinstance(value, list):
            many = self.draw(st.booleans())
            self.text += "[\n" if many else "["
            for index, item in enumerate(value):
                self.text += "  # a comment, [x] = 1\n" if many and index else ""
                self._note(f"{said}[{index}]")
                self._value(item, f"{said}[{index}]")
                self.text += ",\n" if many else ", "
            self.text += "]"
        elif isinstance(value, str) and "\n" in value:
            self.text += f'"""\n{value.replace(chr(34), chr(92) + chr(34))}"""'
        else:
            self.text += json.dumps(value)


@st.composite
def _written(draw: st.DrawFn) -> tuple[dict[str, Any], str, dict[str, int]]:
    data = draw(_DOCUMENTS)
    writer = _Writer(draw)
    writer.table(data, [], "")
    return data, writer.text, writer.lines


@settings(max_examples=60, deadline=None)
@given(written=_written())
def test_every_key_of_any_document_is_found_on_its_line(
    written: tuple[dict[str, Any], str, dict[str, int]],
) -> None:
    """Whatever shape a document's tables take, each key is found on the line it was
    written on (a table's: its header, or the first dotted key that gives it)."""
    data, text, lines = written
    assert tomllib.loads(text) == data, text
    found = KeyLines(text)
    assert {key: found.line(key) for key in lines} == lines, text
