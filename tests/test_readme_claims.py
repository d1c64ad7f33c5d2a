"""README's names are the code's: the fields of the status documents it lays out; the
log events, metrics (their labels and label values), config keys, query parameters and
repository paths its prose names; the flags of the commands it quotes in a sentence.
A reader greps the log for an event README names, or pastes a PromQL selector from
it: a name renamed on one side only fails here, not at 3 a.m. (Its config examples
and whole command lines are loaded and parsed in test_readme_configs, its metrics
table held to the exposition in test_metrics.)"""

from __future__ import annotations

import argparse
import re
import typing
from collections.abc import Iterator
from pathlib import Path

import msgspec
import pytest

from sesd.status.document import AlertRow, Status, TenantRow
from sesd.status.scope_document import ScopeDetail

ROOT = Path(__file__).resolve().parent.parent
TEXT = (ROOT / "README.md").read_text(encoding="utf-8")
#: README without its fenced blocks: the prose and its inline code.
PROSE = re.sub(r"```.*?```", "", TEXT, flags=re.S)


def _fields(kind: type[msgspec.Struct], leave: tuple[type, ...] = ()) -> set[str]:
    """Every field name of ``kind`` and of the structs its fields hold, less those of
    ``leave`` (shown elsewhere)."""
    names: set[str] = set()

    def walk(info: msgspec.inspect.Type) -> Iterator[msgspec.inspect.Type]:
        yield info
        for child in ("item_type", "value_type"):
            if hasattr(info, child):
                yield from walk(getattr(info, child))
        for member in getattr(info, "types", ()):
            yield from walk(member)

    def visit(info: msgspec.inspect.Type) -> None:
        for found in walk(info):
            if isinstance(found, msgspec.inspect.StructType) and found.cls not in leave:
                for field in found.fields:
                    names.add(field.encode_name)
                    visit(field.type)

    visit(msgspec.inspect.type_info(kind))
    return names


def _named(said: str) -> set[str]:
    """The quoted names of an outline, less the values README gives a field
    (``"axis": "domain" | "provider" | "tenant"``)."""
    said = re.sub(r'"\w+"(?: \| "\w+")+', "", said)
    return set(re.findall(r'"(\w+)"', said))


def test_readme_lays_out_every_field_of_the_status_document() -> None:
    """README's outline of ``/api/v1/status`` names each field the daemon sends, and
    nothing it does not: a field added without README is one no reader's script
    knows of."""
    said = TEXT.split("schema `sesd.status.v1`", 1)[1].split("```text\n", 1)[1]
    assert _named(said.split("```", 1)[0]) == _fields(Status)


def test_readme_lays_out_every_field_of_a_label_s_document() -> None:
    """The same of ``/api/v1/domain/NAME``; its alerts and tenants are the status
    document's rows (README writes them ``[...]``)."""
    said = TEXT.split("schema `sesd.scope.v1`", 1)[1].split("a label sesd does not count", 1)[0]
    assert _named(said) == _fields(ScopeDetail, leave=(AlertRow, TenantRow))


def _source() -> str:
    return "\n".join(path.read_text(encoding="utf-8") for path in (ROOT / "sesd").rglob("*.py"))


def test_every_log_event_readme_names_is_one_sesd_logs() -> None:
    """An event README names (``sesd.clock.stepped``) is written, quoted, in sesd's
    source: what an operator greps the log for is what sesd logs."""
    named = set(re.findall(r"`(sesd(?:\.[a-z_]+){2,})`", TEXT))
    assert len(named) >= 40
    source = _source()
    # An alert's transitions are logged as f"sesd.alert.{kind}".
    made = set(re.findall(r'f"(sesd(?:\.[a-z_]+)+)\.\{', source))
    wrong = [name for name in named if f'"{name}"' not in source]
    assert sorted(name for name in wrong if name.rpartition(".")[0] not in made) == []


def test_every_metric_readme_names_is_in_its_table_with_the_labels_named() -> None:
    """A metric README's prose or queries name (``sesd_notifications_total{sink,
    outcome="failed"}``) is a family of its metrics table, which the metrics tests hold
    to the exposition, under its sample name, and the labels a selector names are
    that family's."""
    from tests.test_metrics import _readme_families

    families = _readme_families()
    wrong = []
    found = re.finditer(r"(?<![/\w])(sesd_\w*[a-z0-9])\b(?![./])(\{[^}]*\})?", TEXT)
    for name, selector in {(match[1], match[2] or "") for match in found}:
        family = re.sub(r"_(total|bucket|sum|count)$", "", name)
        kind, labels = families.get(family, families.get(name, ("", set())))
        if not kind or (kind == "counter") != name.endswith("_total"):
            wrong.append(name)
        used = {re.split(r"[=!~]", pair)[0].strip() for pair in selector.strip("{}").split(",")}
        if used - labels - {"", "le", "quantile"}:
            wrong.append(name + selector)
    assert sorted(wrong) == []


def test_every_flag_a_sentence_of_readme_gives_a_command_is_one_it_takes() -> None:
    """README's prose quotes commands in part (``sesd replay --report --set``): each
    names a command of the CLI, and each flag one that command takes (the shell blocks'
    whole lines are parsed in test_readme_configs)."""
    from sesd.commands.main import COMMANDS, _parser

    quoted = [" ".join(span.split()) for span in re.findall(r"`([^`]+)`", PROSE)]
    lines = [span.removeprefix("sesd ") for span in quoted if span.startswith("sesd ")]
    assert len(lines) >= 25
    wrong = []
    for line in lines:
        words = line.split()
        if words == ["--version"]:
            continue
        if words[0] not in COMMANDS:
            wrong.append(line)
            continue
        parser = _parser(words[0])
        for word in words:
            actions = parser._subparsers._group_actions if parser._subparsers else []
            # A command's subcommands (``silence add``): the parser a flag after it is of.
            choices: dict[str, argparse.ArgumentParser] = actions[0].choices if actions else {}  # type: ignore[assignment]
            if word in choices:
                parser = choices[word]
            elif word.startswith("-") and word.split("=")[0] not in parser._option_string_actions:
                wrong.append(line)
    assert wrong == []


def _key_type(path: list[str]) -> object:
    """The type of the config key at ``path`` (``["ingest", "delete_invalid"]``), or
    None when the schema has no such key."""
    from sesd.config import Config

    kind: object = Config
    for part in path:
        if not (isinstance(kind, type) and issubclass(kind, msgspec.Struct)):
            return None
        fields = {field.encode_name: field.type for field in msgspec.structs.fields(kind)}
        if part not in fields:
            return None
        kind = fields[part]
        # A section held as a list of tables or optional: the table's type.
        while typing.get_args(kind) and not (
            isinstance(kind, type) and issubclass(kind, msgspec.Struct)
        ):
            kind = [arg for arg in typing.get_args(kind) if arg is not type(None)][-1]
    return kind


def test_every_config_key_readme_s_prose_names_is_in_the_schema() -> None:
    """A key README's prose writes with its section (`[ingest] delete_invalid = true`,
    `[reload] check_files_every`) is one the config takes: a key renamed in the schema
    alone would leave the reader writing one that fails the start."""
    quoted = [" ".join(span.split()) for span in re.findall(r"`([^`]+)`", PROSE)]
    named = [re.match(r"\[\[?([a-z_.]+)\]\]? ([a-z_]+)\b", span) for span in quoted]
    paths = [[*match[1].split("."), match[2]] for match in named if match]
    assert len(paths) >= 20
    assert [".".join(path) for path in paths if _key_type(path) is None] == []


def test_readme_names_the_query_parameters_the_page_reads() -> None:
    """README's status page names each query parameter its page and API read
    (``?top=N``), and none they do not: a parameter renamed on one side only would
    be taken for a stranger's and refused, or go unknown."""
    from sesd.status.routes import _PARAMETERS

    assert set(re.findall(r"`\?([a-z]+)=", PROSE)) == set(_PARAMETERS)


def _table_values(family: str, label: str) -> tuple[set[str], set[str]]:
    """In README's metrics table, the values ``label`` of ``family`` is said to take:
    those listed in the parenthesis after it up to its first ``;`` or ``:`` (a closed
    list), and every backticked word of the row's labels cell (where the rest are
    named, each with what it means)."""
    section = TEXT.split("\n## Metrics\n", 1)[1].split("\n## ", 1)[0]
    (row,) = [line for line in section.splitlines() if line.startswith(f"| `{family}` |")]
    cell = row.strip("|").split("|")[2]
    listed = re.split(r"[;:]", cell.split(f"`{label}` (", 1)[1], maxsplit=1)[0]
    return set(re.findall(r"`([^`]+)`", listed)), set(re.findall(r"`([^`]+)`", cell))


def test_the_label_values_readme_s_metrics_table_lists_are_the_code_s() -> None:
    """Each label value README's metrics table gives (`outcome` (`sent`, ...)) is one
    sesd exports, and each value sesd exports is named there: a dashboard built from
    the table queries values that exist."""
    from sesd.alerting.outbox import OUTCOMES
    from sesd.core.accounts import STATUSES
    from sesd.core.events import EVENT_TYPES
    from sesd.core.provider_cache import LOOKUP_OUTCOMES
    from sesd.core.tallies import Outcome
    from sesd.metrics.registry import SQS_OPERATIONS, SQS_RETRIED, TASKS
    from sesd.metrics.tenants import _IMPACTS, _SENDING

    exported = {
        ("sesd_events_total", "event_type"): EVENT_TYPES,
        ("sesd_messages_total", "outcome"): tuple(Outcome),
        ("sesd_dns_lookups_total", "outcome"): LOOKUP_OUTCOMES,
        ("sesd_sqs_errors_total", "operation"): SQS_OPERATIONS,
        ("sesd_sqs_retries_total", "operation"): SQS_RETRIED,
        ("sesd_notifications_total", "outcome"): (*OUTCOMES, "member_failed"),
        ("sesd_task_failures_total", "task"): TASKS,
        ("sesd_ses_enforcement_status", "status"): STATUSES,
        ("sesd_ses_reputation_entity_sending_status", "status"): _SENDING,
        ("sesd_ses_reputation_entity_impact", "impact"): _IMPACTS,
    }
    wrong = []
    for (family, label), values in exported.items():
        listed, named = _table_values(family, label)
        if not listed or listed - set(values) or set(values) - named:
            wrong.append((family, label, sorted(listed ^ set(values))))
    assert wrong == []


def test_readme_names_every_reason_provider_and_cause_sesd_counts() -> None:
    """The reasons an invalid body is counted under ("Inputs"), the provider labels and
    the causes (their tables) are the code's, each named."""
    from sesd.core.causes import CAUSES
    from sesd.core.events import INVALID_REASONS
    from sesd.core.providers import LABELS

    inputs = TEXT.split("\n### Inputs\n", 1)[1].split("\n### ", 1)[0]
    assert set(INVALID_REASONS) <= set(re.findall(r"`(\w+)`", inputs))
    rows = {cell for line in TEXT.splitlines() for cell in re.findall(r"^\| (.*?) \|", line)}
    labels = {name for row in rows for name in re.findall(r"`(\w+)`", row)}
    assert set(LABELS) <= labels
    assert set(CAUSES) <= labels


def test_every_file_of_the_repository_readme_names_is_there() -> None:
    """A path README gives into the repository (`config/sesd.example.toml`,
    `sesd/status/document.py`, `tests/reference.py`) names a file or folder that
    exists: a file moved without README leaves the reader looking for it."""
    roots = {path.name for path in ROOT.iterdir()} - {"README.md"}
    spans = re.findall(r"`([\w.-]+/[\w./*-]*)`", TEXT)
    links = re.findall(r"\]\(([\w.-]+/[^)#\s]*)\)", TEXT)  # an image's, say
    named = {span for span in spans + links if span.split("/", 1)[0] in roots}
    assert len(named) >= 20
    assert sorted(path for path in named if not list(ROOT.glob(path))) == []


def test_readme_s_status_line_lists_every_command_and_no_other() -> None:
    """README's "Status:" names the commands in place (`run`, `status`, ..., `demo`):
    a command added or renamed without it is one a reader of the list never learns of."""
    from sesd.commands.main import COMMANDS

    said = " ".join(TEXT.split("\nStatus: ", 1)[1].split(" commands are in place", 1)[0].split())
    assert set(re.findall(r"`([a-z-]+)`", said.split(" and the ", 1)[1])) == set(COMMANDS)


def _default(command: list[str], flag: str) -> object:
    """The default argparse gives ``flag`` of ``command`` (``["status"]``)."""
    from sesd.commands.main import _parser

    parser = _parser(command[0])
    for word in command:
        actions = parser._subparsers._group_actions if parser._subparsers else []
        parser = actions[0].choices[word]  # type: ignore[index]
    (action,) = [a for a in parser._actions if flag in a.option_strings]
    return action.default


#: What README says of a flag's default, in its words, and the default it means.
_DEFAULTS_SAID = [
    (["demo"], "--listen", "`--listen HOST:PORT` (127.0.0.1:9585)", "127.0.0.1:9585"),
    (["demo"], "--rate", "`--rate` (messages a second, 60;", 60),
    (["demo"], "--spike-after", "seconds before the delay spike, 30,", 30),
    (["demo"], "--spike-after", "a delay spike on `outlook.com` 30 s in", 30),
    (["demo"], "--pause-after", "before SES pauses a tenant, 45)", 45),
    (["demo"], "--pause-after", "SES pauses one 45 s in", 45),
    (["demo"], "--every", "`--every` (seconds between console summaries, 5;", 5),
    (["demo"], "--every", "a per-domain summary on the console every 5 s", 5),
    (["demo"], "--duration", "(stop after that many seconds; default: run until Ctrl-C)", None),
    (["status"], "--top", "`--top N` (1 to 200, default 10)", 10),
    (["status"], "--alerts", "`--alerts N` (1 to 1,000, default 50)", 50),
    (["setup"], "--max-receive-count", "(`--max-receive-count`, 5)", 5),
]


@pytest.mark.parametrize(("command", "flag", "said", "default"), _DEFAULTS_SAID)
def test_a_default_readme_gives_a_flag_is_the_command_s(
    command: list[str], flag: str, said: str, default: object
) -> None:
    """README's words for a flag's default (the demo's spike 30 s in, `status --top`'s
    10) are there, and the default is the parser's: one changed on one side only
    leaves the reader expecting the spike, or ten rows, that do not come."""
    assert said in " ".join(TEXT.split())
    assert _default(command, flag) == default


def test_the_demo_s_traffic_is_as_readme_s_quick_start_says() -> None:
    """README's first lines say what the demo shows: traffic over fifteen domains, the
    spike on outlook.com for 75 s and again every 3 minutes, a canary every 5 s. It
    said "a dozen" domains while the demo sent to fifteen; a spike or a canary changed
    on one side only leaves the newcomer waiting for what does not come."""
    import inspect

    from sesd.commands.demo.resources import demo_config
    from sesd.commands.demo.traffic import DOMAINS, SPIKE_DOMAIN, Traffic

    said = " ".join(TEXT.split("\n---\n", 1)[0].split())
    numbers = {15: "fifteen"}
    assert f"synthetic SES traffic over {numbers[len(DOMAINS)]} domains" in said
    shape = {name: param.default for name, param in inspect.signature(Traffic).parameters.items()}
    assert (shape["spike"], shape["cycle"]) == (75.0, 180.0)
    assert (
        f"a delay spike on `{SPIKE_DOMAIN}` 30 s in (for 75 s, then again every 3 minutes" in said
    )
    config = demo_config(
        "http://127.0.0.1:1",
        "http://127.0.0.1:1/q",
        "127.0.0.1:0",
        "127.0.0.1:53",
        "http://127.0.0.1:2",
    )
    assert config.canary is not None
    assert config.canary.interval.seconds == 5.0
    assert "a canary every 5 s through a local SES" in said


def _anchor(heading: str) -> str:
    """The anchor GitHub gives a heading: lower case, its punctuation and backticks
    dropped, each space a hyphen (``Provisioning: `sesd setup` `` is
    ``provisioning-sesd-setup``)."""
    return re.sub(r"[^\w\- ]", "", heading.strip().lower()).replace(" ", "-")


def test_every_link_within_readme_opens_a_heading_of_it() -> None:
    """A link to a section (`[Silences](#silences)`, as the checklists give each step)
    opens a heading README has: one renamed leaves the on-call engineer at the top of
    a long page, looking for the step."""
    headings = re.findall(r"^#{1,6} (.+)$", PROSE, re.M)
    anchors = {_anchor(heading) for heading in headings}
    links = re.findall(r"\]\(#([^)\s]+)\)", PROSE)
    assert len(links) >= 20
    assert sorted({link for link in links if link not in anchors}) == []


def test_readme_s_checklists_come_before_how_it_works_and_stay_short() -> None:
    """The two checklists are near the top, where a reader paged at night finds them,
    and short: each step a line or two, the section it links to says the rest."""
    section = TEXT.split("\n## Checklists\n", 1)[1].split("\n## ", 1)[0]
    assert "\n## How it works\n" in TEXT.split("\n## Checklists\n", 1)[1]
    parts = re.split(r"^### ", section, flags=re.M)[1:]
    assert [part.splitlines()[0] for part in parts] == ["Deploying sesd", "Paged by sesd"]
    for part in parts:
        steps = part.strip().splitlines()[1:]
        assert 0 < len(steps) <= 25, part.splitlines()[0]
