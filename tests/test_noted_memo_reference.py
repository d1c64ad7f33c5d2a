"""noted() remembers what a problem recipient's texts made (its examples but the
message id, its keys, its cause's number) by those texts and flags; the form that made
them afresh for every recipient is kept here as the reference. Recipients of one
incident repeat texts (the memo answers), some differ only in what cleaning removes (an
address, a control character, an MTA's ``dsn;``), in one flag (hinted, counted, a
delay's or a bounce's), or in their message id and domain (never remembered); texts
long together are not remembered at all, each text counted toward that bound."""

from __future__ import annotations

from typing import Any

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from sesd.core.causes import CAUSE_INDEX, named
from sesd.core.text import clean, clean_once, mta_name
from sesd.core.windows.breakdown import (
    _NOTED,
    _NOTED_CHARS,
    _NOTED_ITEMS,
    _NOTED_MAX,
    ADVISED,
    CAUSE,
    CONFIG_SET,
    DELAY_TYPE,
    DOMAIN,
    HINTED_CAUSE,
    SECOND_CAUSE,
    SOURCE,
    detail_key,
    noted,
    problem_kinds,
)


def made_afresh(
    *,
    message_id: str,
    source: str,
    config_set: str,
    delay_type: str = "",
    statuses: tuple[str, ...] = (),
    diagnostics: tuple[str, ...] = (),
    mta: str = "",
    cause: str = "",
    also: str = "",
    hinted: bool = False,
    advised: str = "",
    count_cause: bool = False,
    domain: str = "",
    delay: bool = True,
) -> tuple[list[tuple[int, str]], list[object], int, object]:
    """noted() as it was before it remembered anything: every text cleaned and keyed
    for every recipient (the reference)."""
    status_kind, diagnostic_kind, mta_kind, id_kind = problem_kinds(delay)
    examples = [(id_kind, clean_once(message_id))]
    if source:
        examples.append((SOURCE, clean(source)))
    if config_set:
        examples.append((CONFIG_SET, clean(config_set)))
    keys = [detail_key(DELAY_TYPE, clean(delay_type))] if delay_type else []
    keys += [detail_key(status_kind, clean(status)) for status in statuses if status]
    keys += [detail_key(diagnostic_kind, clean(text)) for text in diagnostics if text]
    name = mta_name(mta)
    if name:
        keys.append(detail_key(mta_kind, clean(name)))
    if cause:
        keys.append(detail_key(CAUSE, cause))
        if also:
            keys.append(detail_key(SECOND_CAUSE, named(cause, also)))
        if hinted:
            keys.append(detail_key(HINTED_CAUSE, cause))
        if advised:
            keys.append(detail_key(ADVISED, advised))
    cause_index = CAUSE_INDEX[cause] if count_cause and cause else -1
    return examples, keys, cause_index, detail_key(DOMAIN, clean(domain)) if domain else None


# Texts an incident's recipients bring, some alike but for what cleaning removes; and
# texts long enough (alone or with others) that the memo must not keep them, which a
# recipient sometimes brings instead.
_TEXTS: dict[str, list[Any]] = {
    "source": ["", "arn:aws:ses:us-east-1:1:identity/a@example.com", "identity/b@example.com"],
    "config_set": ["", "marketing", "marketing\x07"],
    "delay_type": ["", "MailboxFull", "MailboxFull\u202e"],
    "statuses": [(), ("4.4.7",), ("",), ("4.4.7", "5.1.1")],
    "diagnostics": [
        (),
        ("4.4.7",),
        ("smtp; 452 <ann@example.com>: full",),
        ("smtp; 452 <bob@example.org>: full",),
        ("a\x00b",),
    ],
    "mta": ["", "dsn; mx.example.com", "dns;mx.example.com", " mx.example.com "],
    "cause": ["", "mailbox_full", "rate_limited"],
    "also": ["", "ip_reputation"],
    "advised": ["", "mailbox_full.gmail"],
    "message_id": ["m-1", "m-2@example.com", "m\x1b3"],
    "domain": ["", "example.com", "Example.COM\x00"],
}
_LONG = "451 4.7.1 " + "x" * 600
_LONG_TEXTS: dict[str, list[Any]] = {
    "source": ["s" * 1030],
    "config_set": ["c" * 700],
    "diagnostics": [(_LONG,), (_LONG, _LONG)],
    "mta": ["m" * 500],
    "also": ["a" * 1030],
    "advised": ["v" * 1030],
}
_OTHERS = {name: _TEXTS[name] + _LONG_TEXTS.get(name, []) for name in _TEXTS}
_FLAGS = ("hinted", "count_cause", "delay")
_PER_RECIPIENT = ("message_id", "domain")
_SHARED = st.fixed_dictionaries(
    {name: st.sampled_from(values) for name, values in _TEXTS.items()}
    | {flag: st.booleans() for flag in _FLAGS}
)
# A recipient: one of an incident's few sets of texts, with its own message id and
# domain, sometimes other flags, sometimes one text of another set.
_RECIPIENT = st.tuples(
    st.integers(0, 2),
    st.fixed_dictionaries({name: st.sampled_from(_TEXTS[name]) for name in _PER_RECIPIENT}),
    st.dictionaries(st.sampled_from(_FLAGS), st.booleans(), max_size=2),
    st.sampled_from([None] * len(_TEXTS) + sorted(_TEXTS)),
    st.integers(0, 10),
)


def _texts_size(texts: tuple[object, ...]) -> int:
    """The characters of every text a memo entry was made from (flags aside)."""
    size = 0
    for text in texts:
        if isinstance(text, str):
            size += len(text)
        elif isinstance(text, tuple):
            size += sum(len(part) for part in text)
    return size


@settings(max_examples=150, deadline=None, derandomize=True)
@given(st.lists(_SHARED, min_size=1, max_size=3), st.lists(_RECIPIENT, min_size=1, max_size=25))
def test_noted_says_what_its_texts_made_afresh_say(
    incident: list[dict[str, Any]],
    recipients: list[tuple[int, dict[str, str], dict[str, bool], str | None, int]],
) -> None:
    """However recipients repeat, differ or alternate, each Noted holds what cleaning
    and keying its own texts afresh gives, and the memo keeps only short sets."""
    _NOTED.clear()
    for which, own, flags, other, pick in recipients:
        call = incident[which % len(incident)] | own | flags
        if other is not None:
            call[other] = _OTHERS[other][pick % len(_OTHERS[other])]
        if call["count_cause"] and call["cause"] == "":
            call["count_cause"] = False  # a counted cause is a known one
        found = noted(**call)
        examples, keys, cause, domain = made_afresh(**call)
        assert found.examples == examples
        assert list(found.keys) == keys
        assert found.cause == cause
        assert found.domain == domain
    assert len(_NOTED) <= _NOTED_MAX
    assert all(_texts_size(texts) <= _NOTED_CHARS for texts in _NOTED)
    assert all(len(texts[3]) + len(texts[4]) <= _NOTED_ITEMS for texts in _NOTED)  # type: ignore[arg-type]


_FIELDS = ["source", "config_set", "delay_type", "statuses", "diagnostics", "mta"]
_FIELDS += ["cause", "also", "advised"]


@pytest.mark.parametrize("field", _FIELDS)
@pytest.mark.parametrize("size", [_NOTED_CHARS, _NOTED_CHARS + 1])
def test_each_text_counts_toward_what_the_memo_keeps(field: str, size: int) -> None:
    """Texts of 1,024 characters together are remembered, one more is not, whichever
    text makes up the length (20 of them in the cause, present in every case)."""
    _NOTED.clear()
    call: dict[str, Any] = {"message_id": "m", "source": "", "config_set": "", "cause": "c" * 20}
    text = "t" * (size - 20 if field != "cause" else size)
    call[field] = (text,) if field in ("statuses", "diagnostics") else text
    noted(**call)
    assert len(_NOTED) == (1 if size <= _NOTED_CHARS else 0)


@pytest.mark.parametrize("field", ["statuses", "diagnostics"])
@pytest.mark.parametrize("items", [_NOTED_ITEMS, _NOTED_ITEMS + 1, 5_000])
def test_many_short_texts_are_not_remembered(field: str, items: int) -> None:
    """Statuses or diagnostics of no characters are short together however many there
    are: eight are remembered, one more (or thousands, a long key) is not, and what
    noted() says of them is what cleaning them afresh says."""
    _NOTED.clear()
    call: dict[str, Any] = {"message_id": "m", "source": "", "config_set": "", field: ("",) * items}
    found = noted(**call)
    assert len(_NOTED) == (1 if items <= _NOTED_ITEMS else 0)
    assert list(found.keys) == made_afresh(**call)[1]


def test_one_recipients_keys_cannot_change_the_next_ones() -> None:
    """Two recipients of an incident with alike texts share the keys the memo made: a
    holder that tried to add to the first's (as a provider's windows add the domain)
    cannot, and the second is given what cleaning its texts afresh gives."""
    _NOTED.clear()
    call: dict[str, Any] = {"message_id": "m", "source": "", "config_set": "", "cause": "c"}
    call["diagnostics"] = ("smtp; 452 <ann@example.com>: full",)
    first = noted(**call)
    with pytest.raises(AttributeError):
        first.keys.append(detail_key(DOMAIN, "example.com"))  # type: ignore[attr-defined]
    again = noted(**call | {"message_id": "m2"})
    assert again.keys is first.keys
    assert list(again.keys) == made_afresh(**call)[1]
