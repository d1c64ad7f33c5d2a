"""Event text is written by strangers: addresses hidden, control characters escaped,
size bounded, Slack's control characters escaped."""

from __future__ import annotations

import json
import re
import tracemalloc
import unicodedata

import msgspec

from sesd.alerting.evaluator import Evaluator
from sesd.alerting.render import pagerduty_events
from sesd.alerting.render_slack import slack_message
from sesd.config import core_settings, parse_config
from sesd.core.causes import classify
from sesd.core.domains import shown_address
from sesd.core.pipeline import Pipeline
from sesd.core.text import (
    _CONTROL_RE,
    _ENDS,
    ADDRESS,
    MAX_CHARS,
    _clean_cached,
    clean,
    clean_once,
    json_escaped,
    mta_name,
    redact_addresses,
    slack_escape,
    slack_head,
)
from sesd.core.windows import OVERFLOW
from tests import factory as f

NOW = f.T0 + 10
HOSTILE = (
    "smtp; 550 5.1.1 <{address}>: mailbox unavailable <!channel> <@U024BE7LH> "
    "see <http://evil.example/x|click here> \x1b[31mred\x1b[0m & more"
)
RULE = (
    '[[alerts.rules]]\nname = "delays"\nmetric = "delay_ratio"\nwindow = "5m"\nabove = 0.1\n'
    'sinks = ["console"]\n'
)


def test_addresses_are_replaced_wherever_they_stand() -> None:
    """Plain, bracketed, quoted-local-part and IP-literal addresses all become the
    placeholder; text without an address is returned as it is."""
    text = 'to <a.b+c@mx.one.com>, "odd name"@x.org and root@[192.0.2.1]: failed'
    assert redact_addresses(text) == f"to <{ADDRESS}>, {ADDRESS} and {ADDRESS}: failed"
    assert redact_addresses("421 4.4.1 Unable to connect") == "421 4.4.1 Unable to connect"


def test_addresses_in_every_form_a_stranger_writes_are_replaced() -> None:
    """UTF-8 addresses (RFC 6531), IPv6 literals, a domain label starting with '_', a
    zero-width space or NUL beside the '@', a local part longer than RFC 5321 allows,
    a quoted one with an escaped quote, two run together, one after an '@', a line
    break or a separator beside the '@': each is hidden whole, and the text around it
    is kept (a sentence's full stop, a host name and its bracketed IP address, an '@'
    standing alone)."""
    forms = [
        "jösé@example.com",
        "用户@例子.广告",
        "v.p@[IPv6:2001:db8::1]",
        "v.p@_x.example.com",
        "v.p\u200b@example.com",
        "v.p@\x00example.com",
        "a" * 80 + "@example.com",
        '"victim\\"person"@example.com',
        "v.p@example.comw.q@example.org",  # run together
        "@v.p@example.com",  # an '@' written before it
        "v.p\n@example.com",  # whitespace shown escaped beside the '@'
        "v.p@\x1fexample.com",
    ]
    for form in forms:
        assert redact_addresses(f"550 <{form}>: unknown") == f"550 <{ADDRESS}>: unknown", form
        assert redact_addresses(f"to {form}. Done") == f"to {ADDRESS}. Done", form
    assert redact_addresses("a@b.example,c@d.example;e@f.example") == (
        f"{ADDRESS},{ADDRESS};{ADDRESS}"
    )
    kept = "host mx.example.com[192.0.2.1] said: 451 4.7.1 try again (in reply to RCPT TO)"
    assert redact_addresses(kept + " @ noon") == kept + " @ noon"


def test_an_address_written_with_percent_40_or_inside_srs_or_verp_is_hidden_whole() -> None:
    """An '@' percent-encoded (``%40``, as a URL's query or an MTA that quotes a
    forwarded address writes it) counts as an '@': the word is hidden whole, a link
    with it too. The local part inside an SRS or VERP return path is hidden with the
    return path, which has an '@'. A ``%40`` with nothing before or after it in its
    word, and ``(at)`` and ``[at]`` spellings, are kept (README says so)."""
    forms = {
        "ann.victim%40victim.example": ADDRESS,
        # A word ends at ':' (a reply's separator): the link's scheme is kept.
        "https://unsub.example/?u=ann.victim%40victim.example&l=1": f"https:{ADDRESS}",
        "SRS0=HHH=TT=victim.example=ann.victim@forwarder.example": ADDRESS,
        "SRS1=XXX=forwarder.example==HHH=TT=victim.example=ann.victim@other.example": ADDRESS,
        "bounce+ann.victim=victim.example@sender.example": ADDRESS,
        "bounce-ann.victim%3Dvictim.example%40sender.example": ADDRESS,
    }
    for form, shown in forms.items():
        assert clean(f"550 <{form}>: unknown") == f"550 <{shown}>: unknown", form
        assert clean_once(f"id {form}") == f"id {shown}", form
    kept = "quota at 100%40 %40 ann (at) victim.example ann[at]victim.example"
    assert clean(kept) == kept


def test_a_word_ends_at_a_space_that_prints_and_at_no_character_shown_escaped() -> None:
    """What ends a word, for an address, is a space that prints (Unicode's Zs, as Python
    3.11's Unicode lists them) or one of the separators of address lists and replies:
    never a character shown as an escape (a line break beside the '@' would leave the
    address to read, ``ann\\u000a@example.com``)."""
    every = "".join(map(chr, range(0x110000)))
    ends = set(re.findall(f"[{_ENDS}]", every))
    spaces = {c for c in every if unicodedata.category(c) == "Zs"}
    assert ends == spaces | set('"<>()[],;:')
    assert not [c for c in ends if _CONTROL_RE.match(c)]


def test_every_character_that_does_not_print_is_escaped() -> None:
    """Controls, format characters (bidirectional overrides, zero-width and tag
    characters, the soft hyphen), line and paragraph separators and lone surrogates,
    exactly as Unicode categorises them, and nothing else."""
    every = "".join(map(chr, range(0x110000)))
    escaped = {ord(c) for c in _CONTROL_RE.findall(every)}
    hidden = {"Cc", "Cf", "Zl", "Zp", "Cs"}
    assert escaped == {p for p in range(0x110000) if unicodedata.category(chr(p)) in hidden}
    assert clean("a\u200bb\U000e0041c\xad") == "a\\u200bb\\U000e0041c\\u00ad"


def test_json_escaped_is_the_same_json_with_no_character_that_does_not_print_raw() -> None:
    """Every character in a JSON string, as a formatter lays the document out (keys,
    values, backslashes already escaped beside them, past the BMP): what
    :func:`json_escaped` gives reads back as the same values, and holds raw no
    character :func:`clean` escapes but the line breaks and indents between values."""
    every = "".join(chr(p) for p in range(0x110000) if not 0xD800 <= p <= 0xDFFF)
    doc = {"every": every, "\\\x85\u2028key": ["\\u0085", "\\\x9b", "x\\"]}
    laid_out = msgspec.json.format(msgspec.json.encode(doc), indent=2).decode()
    shown = json_escaped(laid_out)
    assert json.loads(shown) == doc
    assert set(_CONTROL_RE.findall(shown)) == {"\n"}


def test_a_long_text_is_read_no_further_than_it_can_show() -> None:
    """A cut falls inside an address (five long addresses before it shrink to the
    placeholder, so the sixth would reach the shown text): the piece before the cut
    is left out, not shown as if it were words. A long word without an '@' is no
    address and is shown up to the bound."""
    long_address = "a" * 60 + "@" + "b" * 181 + ".example"  # 250 characters
    text = " ".join([long_address] * 5) + " victim.person@example.com and more" * 100
    assert text.index("victim") < 4 * 60 + 1024 < text.index("@example.com")  # the cut
    shown = clean(text, 60)
    assert shown == f"{ADDRESS} " * 5 + "…"
    assert clean_once(text[:1270] + "x" * 9000).startswith(ADDRESS)
    assert "victim" not in clean_once(" ".join([long_address] * 40) + " victim.person@x.y")
    assert clean("550 " + "x" * 100_000) == "550 " + "x" * (MAX_CHARS - 5) + "…"
    # Read up to 4 * 60 + 1024 characters: at that length nothing is cut, one more is.
    five = " ".join(["a" * 60 + "@" + "b" * 183 + ".example"] * 5)  # 1264 characters
    assert len(five) == 4 * 60 + 1024
    assert clean(five, 60) == " ".join([ADDRESS] * 5)
    assert clean(five + "c", 60) == f"{ADDRESS} " * 4 + "…"  # the last word left out
    assert clean_once("x" * (MAX_CHARS - 1)) == "x" * (MAX_CHARS - 1)


def test_the_caches_keep_no_more_of_a_text_than_is_read() -> None:
    """A thousand distinct one-mebibyte diagnostics, cleaned and classified, leave the
    caches holding a few megabytes, not a gigabyte."""
    tracemalloc.start()
    try:
        before = tracemalloc.get_traced_memory()[0]
        for i in range(1000):
            text = f"451 4.7.1 try again later {i} " + "x" * (1 << 20)
            clean(text)
            classify("TransientCommunicationFailure", "4.7.1", text)
            del text
        kept = tracemalloc.get_traced_memory()[0] - before
    finally:
        tracemalloc.stop()
    assert kept < 16 << 20, kept


def test_clean_escapes_control_characters_and_bounds_the_size() -> None:
    """Terminal escapes and line breaks are shown as \\u escapes; long text is cut."""
    assert clean("a\x1b[31mb\nc\u202ed") == "a\\u001b[31mb\\u000ac\\u202ed"
    long = clean("x" * 10_000)
    assert len(long) == MAX_CHARS
    assert long.endswith("…")


def test_a_text_seen_once_is_cleaned_as_any_other_and_kept_out_of_the_cache() -> None:
    """A message id needs no change and takes no place in the cache of cleaned texts:
    unique ones, thousands a minute, would push out the diagnostics it is there for.
    One that does need work gets it."""
    _clean_cached.cache_clear()
    for i in range(100):
        assert clean_once(f"0100-{i:04d}") == f"0100-{i:04d}"
    assert clean_once("x" * MAX_CHARS) == "x" * MAX_CHARS  # at the bound: whole
    assert clean("x" * MAX_CHARS) == "x" * MAX_CHARS
    assert clean_once("x" * (MAX_CHARS + 1)) == clean("x" * (MAX_CHARS + 1))
    assert clean_once("<a@b.example>") == f"<{ADDRESS}>"
    assert clean_once("a\tb") == "a\\u0009b"
    assert _clean_cached.cache_info().currsize == 2  # the two clean() above


def test_slack_escape() -> None:
    """&, < and > become entities, & first (so an entity in the text stays visible);
    a backtick, which Slack cannot escape, a modifier grave accent."""
    assert slack_escape("<!here> &lt; a>b") == "&lt;!here&gt; &amp;lt; a&gt;b"
    assert slack_escape("```code```") == "\u02cb" * 3 + "code" + "\u02cb" * 3


def _alerting(diagnostic: str, recipients: int) -> tuple[Pipeline, Evaluator]:
    config = parse_config(RULE)
    pipeline = Pipeline(core_settings(config))
    for i in range(recipients):
        address = f"user{i}@victim.example"
        body = f.delay([address], at=NOW, diagnostic=diagnostic.format(address=address))
        pipeline.feed(f.raw(body), "q", NOW)
    return pipeline, Evaluator(config.alerts, [s.name for s in pipeline.ledger.specs])


def test_identical_diagnostics_for_different_recipients_are_one() -> None:
    """Six delays whose diagnostics differ only by the recipient's address make one top
    diagnostic with a count of six, and no address reaches any sink."""
    pipeline, evaluator = _alerting(HOSTILE, 6)
    evaluator.evaluate(pipeline.ledger, NOW)
    (notification,) = evaluator.due(NOW, flush=True)
    (event,) = pagerduty_events(notification, "key", "sesd")
    details = json.loads(event)["payload"]["custom_details"]
    assert list(details["diagnostic_codes"].values()) == [6]
    (diagnostic,) = details["diagnostic_codes"]
    assert ADDRESS in diagnostic
    assert "\x1b" not in diagnostic
    slack = json.dumps(slack_message(notification))
    for payload in (slack, event.decode()):
        assert "@victim.example" not in payload  # the domain is the label; no address


def test_slack_text_can_mention_nobody_and_link_nothing() -> None:
    """A diagnostic with <!channel>, <@user> and <url|link> reaches Slack escaped, in
    verbatim text objects (no automatic links or names) or plain text ones."""
    pipeline, evaluator = _alerting(HOSTILE, 1)
    evaluator.evaluate(pipeline.ledger, NOW)
    (notification,) = evaluator.due(NOW, flush=True)
    message = slack_message(notification)
    texts = [message["text"]]
    for block in message["blocks"]:
        objects = [block["text"]] if "text" in block else block["elements"]
        for text in objects:
            # Plain text (the mute line) Slack parses for nothing: no mention, no link.
            if text["type"] != "plain_text":
                assert text["type"] == "mrkdwn"
                assert text["verbatim"] is True
            texts.append(text["text"])
    for text in texts:
        assert "<" not in text
        assert ">" not in text
    assert any("&lt;!channel&gt;" in text for text in texts)


def test_slack_text_opens_no_code_block() -> None:
    """Three backticks in a diagnostic would open a code block that swallows the lines
    after it (Slack escapes none): no backtick reaches Slack."""
    pipeline, evaluator = _alerting("smtp; 451 ```swallow``` the rest <{address}>", 1)
    evaluator.evaluate(pipeline.ledger, NOW)
    (notification,) = evaluator.due(NOW, flush=True)
    payload = json.dumps(slack_message(notification), ensure_ascii=False)
    assert "`" not in payload
    assert "\u02cb\u02cb\u02cbswallow" in payload


def test_breakdowns_are_bounded() -> None:
    """Five thousand distinct diagnostics in one bucket keep a bounded number of keys;
    the rest are counted, under OVERFLOW."""
    config = parse_config(RULE)
    pipeline = Pipeline(core_settings(config))
    for i in range(5000):
        body = f.delay([f"u{i}@one.com"], at=NOW, diagnostic=f"smtp; 451 queue id Q{i:06d}")
        pipeline.feed(f.raw(body), "q", NOW)
    breakdown = pipeline.ledger.windows["one.com"].breakdown(0, NOW, top_n=100)
    counted = dict(breakdown.diagnostics)
    assert len(counted) <= 64
    assert counted[OVERFLOW] >= 5000 - 64
    assert sum(counted.values()) == 5000


def test_an_mta_is_named_without_its_rfc_3464_type() -> None:
    """SES's ``reportingMTA`` is "dsn; HOST" (RFC 3464's ``mta-name-type; mta-name``):
    alert text names the host alone; a bare host, an IP literal and odd spacing come
    out as the name; a semicolon later in a name is not a type."""
    assert mta_name("dsn; a8-70.smtp-out.amazonses.com") == "a8-70.smtp-out.amazonses.com"
    assert mta_name("dns;mx.example.net") == "mx.example.net"
    assert mta_name(" x-local-hostname ; [2001:db8::1] ") == "[2001:db8::1]"
    assert mta_name("a8-70.smtp-out.amazonses.com") == "a8-70.smtp-out.amazonses.com"
    assert mta_name("mx.example.net; extra") == "mx.example.net; extra"
    assert mta_name("dsn;") == ""


def test_alert_text_names_the_reporting_mta_without_its_type() -> None:
    """Delays reported by "dsn; a8-70.smtp-out.amazonses.com" and by the bare name count
    as one MTA, and the alert names it without "dsn; "."""
    from sesd.alerting.render import describe

    pipeline = Pipeline(core_settings(parse_config(RULE)))
    evaluator = Evaluator(parse_config(RULE).alerts, ["5m", "15m", "1h"])
    for i, mta in enumerate(["dsn; a8-70.smtp-out.amazonses.com", "a8-70.smtp-out.amazonses.com"]):
        pipeline.feed(f.raw(f.delay([f"r{i}@x.example"], at=NOW, mta=mta)), "q", NOW)
    assert pipeline.ledger.windows["x.example"].breakdown(0, NOW).mtas == [
        ("a8-70.smtp-out.amazonses.com", 2)
    ]
    (alert,) = evaluator.evaluate(pipeline.ledger, NOW)
    assert "reporting MTAs: a8-70.smtp-out.amazonses.com (2)" in describe(alert).splitlines()


#: One escape as :func:`clean` shows a character that does not print.
_ESCAPE = re.compile(r"\\u[0-9a-f]{4}|\\U[0-9a-f]{8}")


def _ends_whole(shown: str) -> None:
    """``shown`` is cut with its ellipsis, and the escapes before it are whole."""
    assert shown.endswith("…")
    assert re.fullmatch(rf"(?:{_ESCAPE.pattern}|[^\\])*+", shown[:-1]), shown[-12:]


def test_a_cut_splits_no_escape() -> None:
    """An address logged in full (``log_recipients``) and a diagnostic that grow past
    their bound as their control characters are escaped are cut before the escape the
    bound falls in, never inside it: a log line never ends in ``\\u00``."""
    for pad in range(6):
        address = "a" * pad + "\x1b" * 100 + "@not a domain"
        shown = shown_address(address)
        assert len(shown) <= 320
        _ends_whole(shown)
        diagnostic = clean("b" * pad + "\n" * 60 + "\U000e0041" * 30)
        assert len(diagnostic) <= MAX_CHARS
        _ends_whole(diagnostic)
    assert shown_address("\x1b" * 400).startswith("\\u001b" * 53)


def test_an_address_shown_in_full_is_cut_only_past_the_longest_smtp_carries() -> None:
    """An address a log line shows in full (``log_recipients``) of exactly 320
    characters, printable throughout, is shown whole; one of 321 is cut to 319 and an
    ellipsis, though it holds nothing to escape."""
    local = "a" * 64 + "@"
    assert shown_address(local + "b" * 255) == local + "b" * 255
    assert shown_address(local + "b" * 256) == local + "b" * 254 + "…"


def test_a_text_seen_once_is_read_whole_up_to_its_read_bound() -> None:
    """A message id and the like (``clean_once``) of seven long addresses, exactly as
    long as is read for MAX_CHARS (4 * 200 + 1024 characters), is shown whole, each
    address a placeholder; one character more and the last word is left out, with an
    ellipsis."""
    long_address = "a" * 60 + "@" + "b" * 181 + ".example"  # 250 characters
    last = "a" * 60 + "@" + "b" * 249 + ".example"  # 318: a whole last word
    seven = " ".join([long_address] * 6 + [last])
    assert len(seven) == 4 * MAX_CHARS + 1024
    assert clean_once(seven) == " ".join([ADDRESS] * 7)
    assert clean_once(seven + "c") == f"{ADDRESS} " * 6 + "…"


def test_an_escape_that_ends_exactly_at_the_bound_is_shown() -> None:
    """A control character whose escape (six characters) ends exactly where a cut text
    must end (MAX_CHARS less the ellipsis) is shown escaped; one a character later is
    left out whole."""
    assert clean("a" * 193 + "\x1b" + "b" * 300) == "a" * 193 + "\\u001b…"
    assert clean("a" * 194 + "\x1b" + "b" * 300) == "a" * 194 + "…"


def test_slack_text_is_cut_before_an_entity_the_bound_splits_and_no_other() -> None:
    """Escaped Slack text cut to a bound keeps an entity that ends just before the
    ellipsis (``ab&lt;``) and leaves out one the bound splits, even the text's first
    (``&amp``: nothing is left but the ellipsis)."""
    assert slack_head(slack_escape("ab<cdef"), 7) == "ab&lt;…"
    assert slack_head(slack_escape("ab<cdef"), 6) == "ab…"
    assert slack_head(slack_escape("&&"), 5) == "…"
    # Bounds shorter than an entity: still no entity's first letters alone.
    assert [slack_head(slack_escape("&&"), n) for n in (4, 3, 2, 1)] == ["…"] * 4
    assert slack_head(slack_escape("a&&"), 3) == "a…"
