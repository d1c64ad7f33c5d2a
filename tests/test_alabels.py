"""Plain Unicode domains put in IDNA form without the ``idna`` package, to its letter."""

from __future__ import annotations

import sys
import unicodedata
from collections.abc import Callable, Iterator
from contextlib import contextmanager

import idna
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from idna import idnadata
from idna.intranges import intranges_contain

from sesd.core import alabels
from sesd.core.alabels import REFUSED, idna2003, idna2008_mapped, plain_alabels, punycode

#: Characters that take every branch: LDH, dots (and the ones UTS #46 maps to a dot),
#: an underscore, plain letters of several scripts, ß and ς (UTS #46 deviations), upper
#: case, combining marks (NFC and a label's first character), right-to-left letters
#: and digits (the bidi rule), joiners and CONTEXTO characters, a soft hyphen (dropped
#: by UTS #46), a symbol (refused by IDNA2008), an unassigned code point.
_POOL = (
    "ab-z09._"
    "üéñçøåßς"
    "примерфЖ"
    "αβγΩ"
    "日本語ドメ"
    "한국"
    "\u0301\u0308\u093f\u0915\u094d"
    "\u05d0\u05d1\u0627\u0628\u0661\u06f1"
    "\u200c\u200d\u00b7\u0375\u30fb"
    "\u00ad\u3002\uff0e"
    "\u2764\U0001f600\U000e0001\U00031350"
    "\u0378"
)

names = st.text(alphabet=st.sampled_from(_POOL), min_size=1, max_size=70)
#: Mostly plain characters, so that most names take the fast path.
_PLAIN = "abz09-üßςфЖ日한\u0301\u093f\u05d0\u0627\u064b"
plain_names = st.text(alphabet=st.sampled_from(_PLAIN), min_size=1, max_size=60)
#: Names with several labels, as addresses carry them.
dotted = st.lists(names | plain_names, min_size=1, max_size=5).map(".".join)


#: Each property's examples, tried in parts of at most 1,000 (each part a test of its
#: own, with its own random seed): Hypothesis' work per example (not the check, a
#: sixth of it) is all the cost, twice over under coverage, and a property's 4,000 in
#: one test took 14 s of CPU there, past the per-test timeout on a loaded machine.
#: Fewer would find less: a bias adaptation off by one in Punycode was first failed
#: at the 300th to 2,000th example, depending on the seed.
PARTS = range(4)


@contextmanager
def _untraced() -> Iterator[None]:
    """A reference's own work run with the trace function (coverage's, in ``make
    test``) paused: the references are idna and the standard library's codecs, which
    coverage does not measure, yet Python 3.11's tracer sees each of their calls.
    idna's refusal of 100 labels of 253 characters (its Punycode costs the square of
    a label's length) takes 0.7 s of CPU, and its test took 2.7 s under coverage
    (0.9 s with idna's part untraced). Nothing of sesd's runs inside, so coverage
    measures the same lines and branches; the tracer is set back as it was
    (coverage's puts itself back in place at the next call)."""
    tracer = sys.gettrace()
    sys.settrace(None)
    try:
        yield
    finally:
        sys.settrace(tracer)


def _idna(name: str) -> str | None:
    try:
        with _untraced():
            return idna.encode(name, uts46=True).decode("ascii")
    except (idna.IDNAError, UnicodeError, ValueError):
        return None


@pytest.mark.parametrize("part", range(3))
@settings(max_examples=1000, deadline=None)
@given(label=st.text(min_size=1, max_size=63))
def test_punycode_is_the_standard_librarys(part: int, label: str) -> None:
    """Any text, from any plane (3,000 in all): the same Punycode as
    ``label.encode("punycode")``."""
    with _untraced():
        expected = label.encode("punycode").decode("ascii")
    assert punycode(label) == expected


@pytest.mark.parametrize("part", PARTS)
@settings(max_examples=1000, deadline=None)
@given(name=dotted)
def test_a_plain_name_is_encoded_as_idna_encodes_it(part: int, name: str) -> None:
    """Names made of every kind of character IDNA treats apart (4,000 in all): whenever
    the fast path answers, ``idna.encode`` answers the same (refuses what it refuses);
    when it declines, idna decides as before."""
    name = name.lower()
    fast = plain_alabels(name)
    if fast is not None:
        assert (fast or None) == _idna(name)  # REFUSED: idna refuses it too


#: Long labels of any characters (the lengths where a label stops fitting).
long_names = st.lists(st.text(min_size=50, max_size=80), min_size=1, max_size=4).map(".".join)


def _idna2003(name: str) -> str | None:
    try:
        with _untraced():
            return name.encode("idna").decode("ascii")
    except UnicodeError:
        return None


#: A sixth of these names are all ASCII, which the IDNA2003 check skips: five parts, for
#: it to see as many as it did alone (4,000 not all ASCII, 4,766 drawn).
@pytest.mark.parametrize("part", range(5))
@settings(max_examples=1000, deadline=None)
@given(name=dotted | long_names)
def test_idna2003_and_idna2008s_lengths_answer_as_their_references(part: int, name: str) -> None:
    """Names short and long, of every kind of character (5,000 in all; one draw for
    both checks, the draw being the cost). One not all ASCII: the same answer as
    ``name.encode("idna")``, refused where it raises. Any: whenever the lengths say it
    cannot fit, ``idna.encode`` refuses it too; any other, once mapped, encodes as idna
    encodes it unmapped with UTS #46."""
    if not name.isascii():
        assert idna2003(name) == _idna2003(name)
    name = name.lower()
    mapped = idna2008_mapped(name)
    if mapped is None:
        assert _idna(name) is None
    else:
        try:
            with _untraced():
                encoded: str | None = idna.encode(mapped).decode("ascii")
        except (idna.IDNAError, UnicodeError, ValueError):
            encoded = None
        assert encoded == _idna(name)


@pytest.mark.parametrize(
    ("name", "encoded"),
    [
        ("xn--ü.example", None),  # a label with its ACE prefix already
        ("XN--ü.example", None),  # the same once nameprep lowers it
        ("a" * 63 + ".ü", "a" * 63 + ".xn--tda"),
        ("a" * 64 + ".ü", None),
        ("a" * 55 + "ü.example", "xn--" + "a" * 55 + "-8yf.example"),  # 63 octets
        ("a" * 56 + "ü.example", None),  # 64
    ],
)
def test_idna2003_at_its_edges(name: str, encoded: str | None) -> None:
    """A label that would start with the ACE prefix twice, an ASCII label and an
    A-label of 63 octets and of 64: as ``name.encode("idna")`` answers."""
    assert idna2003(name) == encoded == _idna2003(name)


#: Three labels as long as a label may be: with an A-label and one more, a name near
#: the longest.
_NEAR_253 = ("a" * 63 + ".") * 3


@pytest.mark.parametrize("name", [_NEAR_253 + "a" * 61, _NEAR_253 + "a" * 61 + "."])
def test_a_name_as_long_as_idna_takes_is_not_refused_by_its_lengths(name: str) -> None:
    """A name of 253 octets, three of its labels of 63 (and the same with a root dot,
    outside the 253): its lengths do not refuse it, as idna encodes it."""
    assert idna2008_mapped(name) == name == _idna(name)


@pytest.mark.parametrize(
    "name",
    [
        _NEAR_253 + "a" * 62,  # 254 octets
        "ü." + _NEAR_253 + "a" * 56,  # 254 at least: an A-label is 4 octets more
        "a" * 64 + ".bücher",  # a label of 64
        "ü" * 60 + ".example",  # past 63 octets as an A-label
    ],
)
def test_a_name_too_long_by_its_lengths_alone_is_refused_before_idna(name: str) -> None:
    """A name one octet too long, or a label: refused without idna's look (its Punycode
    costs the square of a label's length), and idna refuses it too."""
    assert idna2008_mapped(name) is None
    assert _idna(name) is None


@pytest.mark.parametrize(
    ("name", "encoded"),
    [
        ("bücher.example", "xn--bcher-kva.example"),
        ("почта.рф", "xn--80a1acny.xn--p1ai"),
        ("straße.de", "xn--strae-oqa.de"),  # kept, as UTS #46 now keeps deviations
        ("日本語.jp", "xn--wgv71a119e.jp"),
        ("ab\u0301c.example", "xn--abc-ldc.example"),  # a mark after a letter
        ("\u05d0\u05d1.example", "xn--4dbc.example"),  # right-to-left, Hebrew
        ("\u0645\u062b\u0627\u06441.\u0634\u0628\u0643\u0629", "xn--1-ymcl5hc.xn--ngbc5azd"),
        ("a" * 55 + "ü.example", "xn--" + "a" * 55 + "-8yf.example"),  # 63 octets
        ("bücher." + _NEAR_253 + "a" * 47, "xn--bcher-kva." + _NEAR_253 + "a" * 47),  # 253
    ],
)
def test_plain_names_in_their_idna_form(name: str, encoded: str) -> None:
    """Plain names of Latin, Cyrillic, German, Japanese, a combining mark, Hebrew and
    Arabic (a digit last), an A-label as long as a label may be, a name as long as a
    name may be: the fast path answers, with idna's answer."""
    assert plain_alabels(name) == encoded == _idna(name)


@pytest.mark.parametrize(
    "name",
    [
        "\u0627\u0661.example",  # an Arabic-Indic digit: CONTEXTO
        "a\u200db.example",  # a joiner: CONTEXTJ
        "l\u00b7l.example",  # CONTEXTO
        "a\u00adb.example",  # UTS #46 drops a soft hyphen
        "a\u3002example",  # UTS #46 maps an ideographic full stop to a dot
        "xn--bcher-kva.bücher",  # an A-label: decoded and checked by idna
        "ab--c.bücher",  # hyphens third and fourth, in ASCII: the same
        "i\u2764.example",  # IDNA2008 refuses it (IDNA2003 does not)
        "a_b.bücher",  # an underscore: idna refuses it, IDNA2003 does not
        "a\u0308.example",  # not NFC
    ],
)
def test_what_is_not_plain_is_left_to_idna(name: str) -> None:
    """Each name that holds what the fast path does not check: it declines."""
    assert plain_alabels(name) is None


@pytest.mark.parametrize(
    "name",
    [
        "1\u05d0\u05d1.example",  # right-to-left, a digit first: the bidi rule
        "\u05d0a.example",  # right-to-left with a left-to-right letter
        "\u0301a.example",  # a mark first
        "bü--c.example",  # hyphens third and fourth
        "-ü.example",
        "-a.bücher",
        "a..bücher",
        "ü" * 60 + ".example",  # an A-label past 63 octets
        ".".join(["bücher" + "a" * 50] * 5),  # past 253
        "a" * 56 + "ü.example",  # an A-label of 64 octets
        "bücher." + _NEAR_253 + "a" * 48,  # 254 octets
    ],
)
def test_a_plain_name_idna_refuses_is_refused(name: str) -> None:
    """A name of plain characters that fails a check idna makes: refused here, and by
    idna (so that the codec of IDNA2003 is asked at once)."""
    assert plain_alabels(name) == REFUSED
    assert _idna(name) is None


def test_every_plain_character_is_one_uts46_keeps() -> None:
    """The plain set, built afresh (not the one cached), is the dot, the hyphen, lower
    case ASCII letters and digits, and the PVALID characters but those of class AN or
    none, no more, no fewer; the fast path also assumes UTS #46 keeps each as it is
    (no mapping), which holds for the idna package's tables."""
    fullmatch = alabels._plain.__wrapped__().fullmatch
    plain = [chr(cp) for cp in range(0x110000) if fullmatch(chr(cp))]
    pvalid = idnadata.codepoint_classes["PVALID"]
    with _untraced():
        expected = [
            *"-.0123456789abcdefghijklmnopqrstuvwxyz",
            *(
                chr(cp)
                for cp in range(0x80, 0x110000)
                if intranges_contain(cp, pvalid)
                and unicodedata.bidirectional(chr(cp)) not in ("", "AN")
            ),
        ]
    assert plain == expected
    assert len(plain) > 100_000
    for start in range(0, len(plain), 500):
        chunk = "".join(plain[start : start + 500])
        with _untraced():
            remapped = idna.uts46_remap(chunk, std3_rules=False)
        assert remapped == unicodedata.normalize("NFC", chunk)


def _latin(n: int) -> str:
    """A 215-character name of four Latin labels (its IDNA form 247)."""
    return ".".join(f"bücher{n:07d}{k}" + "a" * 38 + "ü" for k in range(4))


def _arabic(n: int) -> str:
    """A 168-character name of five Arabic labels and ``.com`` (its IDNA form 228)."""
    digits = "".join("ابتثجحخدذر"[int(c)] for c in f"{n:07d}")
    return ".".join(f"مثال{digits}{'ب' * 20}{k}" for k in range(5)) + ".com"


@pytest.mark.parametrize("domain", [_latin, _arabic])
def test_a_message_of_long_unicode_domains_never_calls_idna(
    monkeypatch: pytest.MonkeyPatch, domain: Callable[[int], str]
) -> None:
    """A stranger's message names 100 recipients, each at its own long domain of Latin
    (or right-to-left Arabic) labels: about half a millisecond each in ``idna``, 50 ms
    a message on the event loop. Each is counted under the label ``idna`` gives it,
    and ``idna`` is not called once."""
    from sesd.config import core_settings, parse_config
    from sesd.core.pipeline import Pipeline
    from tests import factory as f

    domains = [domain(n) for n in range(100)]
    expected = {_idna(name) for name in domains}
    assert None not in expected
    calls: list[str] = []
    encode = idna.encode

    def counted(name: str, **options: bool) -> bytes:
        calls.append(name)
        return encode(name, **options)

    monkeypatch.setattr(idna, "encode", counted)
    pipeline = Pipeline(core_settings(parse_config("[domains]\nmax_tracked = 200\n")))
    recipients = [f"u{n}@{name}" for n, name in enumerate(domains)]
    result = pipeline.feed(f.sns(f.delivery(recipients)), "q", f.T0)
    assert result.outcome == "processed"
    assert set(pipeline.ledger.windows) == expected
    assert calls == []


def _one_long_label(n: int) -> str:
    """One 253-character label: ideographs, and ``l·l`` (CONTEXTO: not plain)."""
    return "l·l" + "".join(chr(0x4E00 + n * 250 + i) for i in range(250))


def _cyrillic_past_253(n: int) -> str:
    """Six plain Cyrillic labels, 215 characters: 281 in IDNA form, past 253."""
    digits = "".join("абвгдежзий"[int(c)] for c in f"{n:07d}")
    return ".".join(f"пример{digits}{k}{'ф' * 21}" for k in range(6))


@pytest.mark.parametrize("domain", [_one_long_label, _cyrillic_past_253])
def test_a_message_of_names_too_long_costs_no_idna(
    monkeypatch: pytest.MonkeyPatch, domain: Callable[[int], str]
) -> None:
    """A stranger's message names 100 recipients, each at a name too long to be a
    domain: one 253-character label, or plain labels past 253 in IDNA form. idna
    checked each whole (and for the label, ran its Punycode, whose cost is the square
    of the label's length: 40 ms a domain, four seconds a message), refused it, and the
    IDNA2003 codec did the same again. Every recipient is refused as before, neither
    idna nor the codec's ``ToASCII`` is called."""
    import encodings.idna

    from sesd.config import core_settings, parse_config
    from sesd.core.pipeline import Pipeline
    from tests import factory as f

    domains = [domain(n) for n in range(100)]
    assert {_idna(name) for name in domains} == {None}
    calls: list[str] = []
    encode, to_ascii = idna.encode, encodings.idna.ToASCII

    def counted(name: str, **options: bool) -> bytes:
        calls.append(name)
        return encode(name, **options)

    def counted_ascii(label: str) -> bytes:
        calls.append(label)
        return to_ascii(label)

    monkeypatch.setattr(idna, "encode", counted)
    monkeypatch.setattr(encodings.idna, "ToASCII", counted_ascii)
    pipeline = Pipeline(core_settings(parse_config("")))
    recipients = [f"u{n}@{name}" for n, name in enumerate(domains)]
    result = pipeline.feed(f.sns(f.delivery(recipients)), "q", f.T0)
    assert result.outcome == "invalid"
    assert result.reason == "no_usable_domain"
    assert calls == []


def test_every_right_to_left_character_is_where_the_fast_path_looks() -> None:
    """The fast path applies the bidi rule to a label with a character in a few blocks
    only: every code point of class R or AL is in one of them."""
    outside = [
        cp
        for cp in range(0x110000)
        if unicodedata.bidirectional(chr(cp)) in ("R", "AL")
        and not alabels._RTL_BLOCKS.match(chr(cp))
    ]
    assert outside == []
