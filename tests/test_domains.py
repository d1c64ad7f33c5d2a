"""Recipient domains: normalisation, the cardinality cap, groups and idle eviction."""

from __future__ import annotations

import pytest

from sesd.core.domains import (
    OTHER,
    _normalised,
    domain_of,
    normalise_domain,
    readable,
    recipient_key,
    redact_address,
)
from sesd.core.label_table import LabelTable, domain_labels


@pytest.mark.parametrize(
    ("address", "domain"),
    [
        ("user@example.org", "example.org"),
        ("User@EXAMPLE.Org", "example.org"),
        ("user@MAIL.EXAMPLE.BOX.", "mail.example.box"),
        ("user@example.org.", "example.org"),
        ("Jane Doe <jane@Example.COM>", "example.com"),
        ('"odd@name" <jane@example.com>', "example.com"),
        ("  user@example.org  ", "example.org"),
        # What follows the last "@", whatever stands before it, up to the first ">".
        ("@example.org", "example.org"),
        ("Jane <jane@example.com> (sales > support)", "example.com"),
        ("user@bücher.example", "xn--bcher-kva.example"),
        ("user@BÜCHER.example", "xn--bcher-kva.example"),
        ("user@xn--bcher-kva.example", "xn--bcher-kva.example"),
        ("user@mail.example.co.uk", "mail.example.co.uk"),
        # IDNA2008 refuses a symbol; the domain is the label its punycode is (IDNA2003).
        ("user@i❤.example", "xn--i-7iq.example"),
        ("user@xn--i-7iq.example", "xn--i-7iq.example"),
        # A name idna maps before it encodes (a full-width letter) keeps IDNA2008's
        # sharp s, which IDNA2003 would spell "ss": the domain its delay and bounce share.
        ("user@\uff53traße.de", "xn--strae-oqa.de"),
        # A root dot in any full stop IDNA reads as a dot, as idna.encode(uts46=True)
        # maps it: ideographic, full-width, half-width.
        ("user@Bücher.de\u3002", "xn--bcher-kva.de"),
        ("user@example.org\uff0e", "example.org"),
        ("user@example.org\uff61", "example.org"),
    ],
)
def test_normalisation(address: str, domain: str) -> None:
    """Display names go, case folds, the trailing dot goes, IDN becomes its ASCII form."""
    assert domain_of(address) == domain


@pytest.mark.parametrize(
    "address",
    [
        "no-at-sign",
        "user@",
        "user@.",
        "user@exa mple.org",
        "user@-bad-.org",
        "user@-bad-",
        "user@example.org-",
        "user@a..b",
        "user@" + "a" * 64 + ".org",
        "user@bad_idn_\udcff.org",
        "user@" + "❤" * 64 + ".org",  # its punycode is too long a label
    ],
)
def test_unusable_domains(address: str) -> None:
    """An address with no usable domain gives None (counted as invalid upstream)."""
    assert domain_of(address) is None


def test_redacted_address_keeps_only_the_domain() -> None:
    """Logs may carry the domain, never the local part."""
    assert redact_address("Jane <jane.doe@example.com>") == "***@example.com"
    assert "jane" not in redact_address("jane.doe@example.com")


def test_cap_sends_the_rest_to_other() -> None:
    """Domains are admitted while fewer than max_tracked are tracked; the rest are ``other``."""
    table = LabelTable(max_tracked=2, idle_evict=3600)
    assert table.label("a.com", 0) == "a.com"
    assert table.label("b.com", 0) == "b.com"
    assert table.label("c.com", 0) == OTHER
    assert table.label("a.com", 1) == "a.com"
    assert len(table) == 2
    assert sorted(table.labels()) == ["a.com", "b.com", OTHER]


def test_groups_and_tracked_domains() -> None:
    """Group members share the group's name; tracked domains always keep their own."""
    table = LabelTable.for_domains(
        track=["Gmail.com."],
        groups={"microsoft": ["outlook.com", "hotmail.com"]},
        max_tracked=0,
        idle_evict=3600,
    )
    assert table.label("outlook.com", 0) == "microsoft"
    assert table.label("hotmail.com", 0) == "microsoft"
    assert table.label("gmail.com", 0) == "gmail.com"
    assert table.label("yahoo.com", 0) == OTHER


def test_idle_domains_are_evicted_and_make_room() -> None:
    """A domain idle for idle_evict is evicted (and reported); its slot is free again."""
    table = LabelTable.for_domains(track=["keep.com"], groups={}, max_tracked=2, idle_evict=100)
    table.label("keep.com", 0)
    table.label("old.com", 0)
    assert table.label("new.com", 50) == OTHER
    table.label("other-traffic.com", 60)
    assert table.evict_idle(99) == []
    assert table.evict_idle(101) == ["old.com"]
    assert table.label("new.com", 102) == "new.com"
    assert table.evict_idle(10_000) == ["new.com"]  # tracked domains and other stay
    assert table.label("keep.com", 10_001) == "keep.com"


def test_redacting_an_address_without_a_usable_domain() -> None:
    """The text after the last @ is shown (escaped, at most 64 characters); no @ at all
    shows nothing."""
    assert redact_address("nobody") == "***"
    assert redact_address("a@b@not a domain!") == "***@not a domain!"
    junk = "x@" + "é" * 100
    shown = redact_address(junk)
    assert shown == "***@" + "\\xe9" * 64


def test_restoring_past_the_cap_still_restores_groups_and_tracked_domains() -> None:
    """A snapshot with more domains than the cap, then a group: the group's last-seen
    time is restored even though domains before it were over the cap."""
    table = LabelTable.for_domains(
        track=[], groups={"microsoft": ["outlook.com"]}, max_tracked=1, idle_evict=100
    )
    table.restore({"a.com": 10.0, "b.com": 11.0, "microsoft": 500.0})
    assert sorted(table.labels()) == ["a.com", "microsoft"]
    assert table.evict_idle(550.0) == ["a.com"]  # a group is never evicted


def test_restoring_more_labels_than_the_cap_keeps_the_cap() -> None:
    """A state file with more domains than max_tracked (the cap was lowered): only
    max_tracked are admitted back, the rest count under ``other``."""
    table = LabelTable(max_tracked=2, idle_evict=3600)
    table.restore({"a.com": 10.0, "b.com": 11.0, "c.com": 12.0, "d.com": 13.0})
    assert sorted(table.labels()) == ["a.com", "b.com"]
    assert table.label("c.com", 20) == OTHER
    assert table.label("a.com", 20) == "a.com"


def test_restoring_keeps_the_later_of_two_last_seen_times() -> None:
    """A label seen since the snapshot was taken keeps its own time: an older snapshot
    does not make it idle sooner; a newer one moves it on."""
    table = LabelTable(max_tracked=5, idle_evict=50)
    table.label("a.com", 100.0)
    table.label("b.com", 100.0)
    table.restore({"a.com": 10.0, "b.com": 130.0})
    assert table.snapshot() == {"a.com": 100.0, "b.com": 130.0}
    assert table.evict_idle(160.0) == ["a.com"]


def test_a_tracked_domain_and_a_group_a_reload_dropped_are_evicted_when_idle() -> None:
    """Labels that were fixed before a reload stay while seen, then go as any other:
    the group's name was never a value of its own, the domain no longer is one."""
    table = LabelTable.for_domains(
        track=["a.com"], groups={"microsoft": ["outlook.com"]}, max_tracked=5, idle_evict=50
    )
    assert table.label("a.com", 100.0) == "a.com"
    assert table.label("outlook.com", 100.0) == "microsoft"
    table.set_fixed({})
    assert table.evict_idle(150.0) == []
    assert sorted(table.evict_idle(200.0)) == ["a.com", "microsoft"]
    assert table.labels() == []
    assert table.label("outlook.com", 210.0) == "outlook.com"


def test_a_domain_a_reload_puts_in_a_group_stays_there_when_its_own_label_goes() -> None:
    """A domain counted under its own label, then made a group's member by a reload:
    when its own label goes idle and is evicted, its mail still counts under the group."""
    table = LabelTable.for_domains(track=[], groups={}, max_tracked=5, idle_evict=50)
    assert table.label("outlook.com", 0.0) == "outlook.com"
    table.set_fixed(domain_labels([], {"microsoft": ["outlook.com"]}))
    assert table.label("outlook.com", 100.0) == "microsoft"
    assert table.evict_idle(120.0) == ["outlook.com"]
    assert table.label("outlook.com", 130.0) == "microsoft"
    assert table.labels() == ["microsoft"]


def test_a_table_fresh_from_its_settings_knows_its_groups() -> None:
    """A group's name and ``other`` are no single domain's label; a tracked or admitted
    domain is (its provider can be looked up), before any reload."""
    table = LabelTable.for_domains(
        track=["a.com"], groups={"microsoft": ["outlook.com"]}, max_tracked=5, idle_evict=50
    )
    assert table.label("b.com", 1.0) == "b.com"
    assert [table.single(label) for label in ("a.com", "b.com", "microsoft", OTHER)] == [
        True, True, False, False,
    ]  # fmt: skip


def test_a_domain_idle_for_exactly_idle_evict_stays_and_goes_just_after() -> None:
    """Seen at 100, idle_evict 50: still tracked at exactly 150, evicted just after."""
    table = LabelTable(max_tracked=5, idle_evict=50)
    table.label("a.com", 100)
    assert table.evict_idle(150) == []
    assert table.evict_idle(150.001) == ["a.com"]


def test_a_domain_a_rule_names_is_tracked_whatever_came_first() -> None:
    """Three other domains take every label; then the domain a rule names is delayed:
    it has windows of its own and the rule fires on it (under ``other`` it could not)."""
    from sesd.alerting.evaluator import Evaluator
    from sesd.config import core_settings, parse_config
    from sesd.core.pipeline import Pipeline
    from tests import factory as f
    from tests.test_rules import feed_spike

    config = parse_config(
        '[domains]\nmax_tracked = 3\n[[alerts.rules]]\nname = "big"\nmetric = "delay_ratio"\n'
        'window = "15m"\nabove = 0.05\nmin_events = 10\ndomains = ["BigCustomer.example", "g.*"]\n'
    )
    pipeline = Pipeline(core_settings(config))
    for i in range(3):
        pipeline.feed(f.raw(f.delivery([f"u@d{i}.example"])), "q", f.T0)
    feed_spike(pipeline, "bigcustomer.example", f.T0, 6, 6)
    feed_spike(pipeline, "g.example", f.T0, 6, 6)  # a glob names no domain in particular
    assert sorted(pipeline.ledger.windows) == [
        "bigcustomer.example", "d0.example", "d1.example", "d2.example", "other",
    ]  # fmt: skip
    evaluator = Evaluator(config.alerts, [s.name for s in pipeline.ledger.specs])
    fired = evaluator.evaluate(pipeline.ledger, f.T0)
    assert [(a.rule, a.domain) for a in fired] == [("big", "bigcustomer.example")]


def test_a_label_in_idna_form_reads_with_its_unicode_form() -> None:
    assert readable("xn--bcher-kva.de") == "xn--bcher-kva.de (bücher.de)"
    assert readable("shop.xn--80a1acny.xn--p1ai") == "shop.xn--80a1acny.xn--p1ai (shop.почта.рф)"
    assert readable("gmail.com") == "gmail.com"
    assert readable("xn--i-7iq.example") == "xn--i-7iq.example (i❤.example)"
    # IDNA2008 first: IDNA2003 would read ß as "ss" and give up on this one.
    assert readable("xn--zca.de") == "xn--zca.de (ß.de)"
    assert readable("xn--invalid-.example") == "xn--invalid-.example"  # not IDNA: as it is
    assert readable("boxn--x.example") == "boxn--x.example"  # xn-- inside a label: no A-label


def test_a_recipient_is_keyed_by_its_address_with_its_domain_in_normal_form() -> None:
    """How two events' recipients compare: case, display names, IDNA and a trailing dot
    do not make two; an @ in a quoted local part, or an address without a usable
    domain, is kept as it is."""
    assert recipient_key(" Ann <ANN@Bücher.de.> ") == "ann@xn--bcher-kva.de"
    assert recipient_key('"A <b>" <ann@x.example>') == "ann@x.example"  # the last <...>
    assert recipient_key('"a@b"@Bücher.de') == '"a@b"@xn--bcher-kva.de'  # the last @
    assert recipient_key("a<b@x.example") == "a<b@x.example"  # no closing >: no name
    assert recipient_key("Bücher") == "bücher"  # no @: nothing to normalise
    assert recipient_key("x@not a domain.") == "x@not a domain."  # unusable: as written
    assert recipient_key("X@Plain.Example") == "x@plain.example"


def test_a_domain_longer_than_any_is_refused_before_idna_and_kept_out_of_the_cache() -> None:
    """A recipient domain past 253 characters, as a stranger may write one, is refused
    before any work: IDNA (seconds for a megabyte of ``aü.``) never sees it, and the
    cache of normalised domains takes no entry for it (it held everything after the @,
    a quarter of a megabyte a body). Nothing is lost: lower-casing and IDNA never
    shorten a name, so none of these was usable. The longest usable name, written with
    a root dot and spaces around it, is still normalised, and cached at its own size."""
    _normalised.cache_clear()
    for part in ["aü." * 20_000, "e" * 250_000, "b" * 254, "bü." * 85, "B" * 253 + "X"]:
        assert normalise_domain(part) is None
        assert domain_of(f"u@{part}") is None
        assert recipient_key(f"U@{part}") == f"u@{part}".lower()  # as written: unusable
    info = _normalised.cache_info()
    assert (info.hits, info.misses, info.currsize) == (0, 0, 0)
    longest = ".".join(["a" * 63] * 3 + ["a" * 61])
    assert len(longest) == 253
    assert normalise_domain(f"  {longest.upper()}.  ") == longest
    assert domain_of(f"u@{longest}") == longest
    info = _normalised.cache_info()
    assert (info.misses, info.currsize) == (1, 1)  # one name, however written


def test_a_domain_written_in_upper_case_is_normalised_once_a_message() -> None:
    """A message names 100 recipients at distinct Unicode domains written in upper case
    (``U0@BÜCHER-0.EXAMPLE``). Decoding keys each recipient by its lower-cased address,
    the pipeline then reads the domain as written: both find one cached name, so each
    domain is put in IDNA form once (twice was twice the work a stranger could ask)."""
    from sesd.config import core_settings, parse_config
    from sesd.core.pipeline import Pipeline
    from tests import factory as f

    _normalised.cache_clear()
    recipients = [f"U{n}@BÜCHER-{n}.ÄRZTE.EXAMPLE" for n in range(100)]
    pipeline = Pipeline(core_settings(parse_config("[domains]\nmax_tracked = 200\n")))
    pipeline.feed(f.sns(f.delivery(recipients)), "q", f.T0)
    assert "xn--bcher-7-n2a.xn--rzte-koa.example" in pipeline.ledger.windows
    assert _normalised.cache_info().misses == 100
