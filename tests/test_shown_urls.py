"""A URL shown by sesd, in either form (the config's, its user kept; sesd status's,
without its user), holds no part of a password written into it, however it is typed.
The forms below were each shown with the password by one form or by both."""

from __future__ import annotations

import pytest

from sesd.config.urls import check_http_url
from sesd.core.shown_urls import shown_bare, shown_url, urls_shown

pytestmark = pytest.mark.timeout(10)


@pytest.mark.parametrize(
    ("url", "named"),
    [
        # No '://' and no '@': the parser reads the user as the host, the password as
        # its port.
        ("ops:s3cr3t", "ops:***"),
        ("http:ops:s3cr3t", "http:***"),
        ("ops:1234567", "ops:***"),
        # The scheme's colon left out: no port is read, the password is after 'ops:'.
        ("http//ops:s3cr3t", "http//ops:***"),
    ],
)
def test_a_password_typed_with_no_slashes_nor_at_is_masked(url: str, named: str) -> None:
    """A URL typed without its '://' nor an '@' (the host forgotten) is refused, and the
    refusal named it whole, password and all; sesd status masked it but for a scheme
    whose colon was left out. Both forms show it masked, and the refusal says so."""
    assert shown_url(url) == named
    assert "s3cr3t" not in shown_bare(url)
    assert "1234567" not in shown_bare(url)
    with pytest.raises(ValueError, match="is not an http") as refused:
        check_http_url(url, "alerts.sinks.am.urls[0]")
    assert str(refused.value) == f"alerts.sinks.am.urls[0]: {named!r} is not an http(s) URL"


@pytest.mark.parametrize(
    ("url", "named"),
    [
        ("http:/\t/ops:s3cr3t@host:9093", "http:/\t/ops:***@host:9093"),
        ("http:/\n/s3cr3t@host", "http:/\n/***@host"),
        ("http:/\r\n/ops:s3cr3t%40host:9093", "http:/\r\n/ops:***@host:9093"),
        ("http:/\t/ops:s3cr3t", "http:/\t/ops:***"),
        # Between the scheme's colon and its slashes, before a token whose '@' is
        # percent-encoded (twice: not the '%40' the config's form looked for).
        ("http:\t//s3cr3t%2540host:9093", "http:\t//***@host:9093"),
        ("http:\n//s3cr3t%40host:9093", "http:\n//***@host:9093"),
        # A space is not dropped, but the refusal naming it named the password too.
        ("http:/ /ops:s3cr3t@host:9093", "http:/ /ops:***@host:9093"),
        ("http:/ /ops:s3cr3t", "http:/ /ops:***"),
    ],
)
def test_a_tab_a_line_break_or_a_space_among_the_slashes_leaves_the_password_masked(
    url: str, named: str
) -> None:
    """The parser drops a tab or a line break anywhere in a URL, so one between the
    scheme's slashes (or before them) leaves the user and password where they were;
    the config's form read the authority as ending at the second slash and showed the
    password (in the refusal naming the tab, and in the daemon's logs of a URL with
    one), sesd status's the password after a '%40' or with no '@'. A space there, which
    the parser keeps, is refused: the refusal naming it showed the password in both
    forms."""
    assert shown_url(url) == named
    assert "s3cr3t" not in shown_bare(url)
    with pytest.raises(ValueError, match="has a ") as refused:
        check_http_url(url, "alerts.sinks.am.urls[0]")
    assert "s3cr3t" not in str(refused.value)


@pytest.mark.parametrize(
    ("url", "named"),
    [
        # Slashes with no scheme before them.
        ("//ops:s3cr3t", "//ops:***"),
        ("//ops:s3cr3t%40host:9093", "***@host:9093"),
        # The '@' percent-encoded: no host holds a '%', so all before it may be a
        # password, a scheme or not.
        ("s3cr3t%40host:9093", "***@host:9093"),
        ("ops:s3cr3t%40host:9093/x", "ops:***@host:9093/x"),
        ("http//s3cr3t%40host:9093", "http//***@host:9093"),
        # A bracket typed before the user: no IPv6 address, its '%40' no zone's.
        ("http://[ops:s3cr3t%40host:9093", "http://[ops:***@host:9093"),
        # A port that is none after the '@': masked as after any host.
        ("ops:pw@host:s3cr3t", "ops:***@host:***"),
        ("http:ops:pw@host:s3cr3t", "http:***@host:***"),
    ],
)
def test_a_url_without_its_scheme_s_slashes_is_named_without_any_password(
    url: str, named: str
) -> None:
    """A URL with no scheme, or its '://' mistyped (or a bracket typed before its
    user), its '@' percent-encoded or a password after it as the port, is refused: the
    refusal named the password (sesd status's form masked all but
    ``http//TOKEN%40host``). Both forms mask it."""
    assert shown_url(url) == named
    assert "s3cr3t" not in shown_bare(url)
    with pytest.raises(ValueError, match="is not an http") as refused:
        check_http_url(url, "alerts.sinks.am.urls[0]")
    assert "s3cr3t" not in str(refused.value)


@pytest.mark.parametrize(
    ("url", "named"),
    [
        # A token holding a ']' before its '@' percent-encoded: refused, or (before a
        # bracketed host) accepted, its member logged and check-config's output showing it.
        ("https://s3c]r3t%40host:9093/x", "https://***@host:9093/x"),
        ("http://s3c]r3t%40[::1]:9093", "http://***@[::1]:9093"),
        # A password so: all of the host and port after it were left out.
        ("https://ops:s3c]r3t%40host:9093", "https://ops:***@host:9093"),
        # An IPv6 address's zone is an interface's index too: its '%40' is no '@'.
        ("http://[fe80::1%40]:9093/x", "http://[fe80::1%40]:9093/x"),
        # A password holding a pair of brackets before its '@' percent-encoded: masked to
        # that '@', not to where the brackets' length, counted otherwise, would end it.
        ("https://ops:pa[ss]word%40host:9093/x", "https://ops:***@host:9093/x"),
    ],
)
def test_a_percent_encoded_at_is_a_zone_s_only_inside_an_ipv6_address(url: str, named: str) -> None:
    """A '%40' in a URL with no '@' leaves the user and password in the parser's host,
    so all before it is masked, but for a bracket before it: a token holding a ']' was
    shown whole, as an IPv6 address would be, and an IPv6 address whose zone is
    interface 40 (``%40``) was shown as a user and password before a host ']'. Only a
    '%40' inside the brackets an address opens with is its zone's."""
    assert shown_url(url) == named
    assert urls_shown({"urls": [url]}) == {"urls": [named]}  # check-config's output


@pytest.mark.parametrize(
    ("url", "named"),
    [
        ("http://tok#s3cr3t@127.0.0.1:9093", "http://***@127.0.0.1:9093"),
        ("https://tok?s3cr3t@host/x", "https://***@host/x"),
        ("http://tok?s3cr3t@[::1]:9093", "http://***@[::1]:9093"),
        # A path holding an '@' after a host with no port is still one.
        ("http://host/x@y", "http://host/x@y"),
    ],
)
def test_a_token_holding_a_question_mark_or_a_hash_is_masked(url: str, named: str) -> None:
    """A token written as the user, a '?' or a '#' in it not percent-encoded, ends the
    parser's host there: the config's form showed it whole (an Alertmanager's refusal
    for a query or a fragment quoted it), sesd status's masked all up to the last '@'.
    A query or a fragment right after the host holding an '@' is far rarer than such a
    token (and refused in an Alertmanager's URL): all up to the last '@' is masked."""
    assert shown_url(url) == named
    assert "s3cr3t" not in shown_bare(url)


@pytest.mark.parametrize(
    ("url", "config_form", "status_form"),
    [
        # Several '@' or '%40': all up to the last is the password's.
        ("http://ops:s3/cr@3t@host:9093", "http://ops:***@host:9093", "http://***@host:9093"),
        ("ops:s3@cr3t@host:9093", "ops:***@host:9093", "host:9093"),
        ("ops:s3%40cr3t%40host:9093", "ops:***@host:9093", "***@host:9093"),
        ("http://ops:s3%40cr3t%40host:9093", "http://ops:***@host:9093", "http://***@host:9093"),
        ("http://s3%40cr3t%40host:9093", "http://***@host:9093", "http://***@host:9093"),
        ("http://s3cr3t%40host:9093", "http://***@host:9093", "http://***@host:9093"),
        ("http://ops:s3:cr3t@host", "http://ops:***@host", "http://host"),
        # An '@' or a '%40' first after the slashes: an empty user.
        ("http://@host:9093", "http://***@host:9093", "http://host:9093"),
        ("http://%40host:9093", "http://***@host:9093", "http://***@host:9093"),
        ("@host:s3cr3t", "***@host:***", "host:***"),
        # A user (or a password) beginning with the character that ends the parser's
        # host, or with the port's colon.
        ("http://?ops:s3cr3t@host:9093", "http://***@host:9093", "http://***@host:9093"),
        ("http://:s3/cr3t@host:9093", "http://***@host:9093", "http://***@host:9093"),
        # Any letter in a token (the characters that end the host are '/', '?', '#').
        ("https://TOKXs3cr3t%40host:9093", "https://***@host:9093", "https://***@host:9093"),
        # A scheme mistyped with one slash, or with a space (a '://' later in the query).
        ("http/ops:s3cr3t", "http/ops:***", "http/ops:***"),
        (
            "ht tp://ops:s3cr3t@host:9093/?next=http://x",
            "ht tp://ops:***@host:9093/?next=http://x",
            None,
        ),
        # What is no password is shown as written: a path holding a '%40' or a colon, a
        # bracketed host's colons before a path holding an '@' (sesd status's form masks
        # all up to an '@' past the host: it cannot tell a path from a password), a port
        # with a control character after it (an error names it).
        ("http://host:9093/a%40b", "http://host:9093/a%40b", "http://host:9093/a%40b"),
        ("http://host/x:y", "http://host/x:y", "http://host/x:y"),
        ("http://[::1]:9093/x@y", "http://[::1]:9093/x@y", None),
        # A token or a password before an '@' percent-encoded: the path and the query
        # after the host are no secret's, shown (the config's form dropped them).
        (
            "https://s3cr3t%40host/api/v2/alerts?x=1#f",
            "https://***@host/api/v2/alerts?x=1#f",
            "https://***@host/api/v2/alerts?x=1#f",
        ),
        (
            "https://ops:s3cr3t%40host:9093/p",
            "https://ops:***@host:9093/p",
            "https://***@host:9093/p",
        ),
        # ...but a password or a token holding one and a '?', '#' or (after a colon) a
        # '/' written as is, an '@' after: all up to the last '@' may be the secret's,
        # as with no '%40' in it (the part after the '%40' was shown, and the path with
        # the rest of it). A user holding an '@' encoded is a token, not kept.
        (
            "http://ops:s3%40cr3t?x@host:9093/p",
            "http://ops:***@host:9093/p",
            "http://***@host:9093/p",
        ),
        (
            "https://s3%40cr3t#x@host/api/v2/alerts",
            "https://***@host/api/v2/alerts",
            "https://***@host/api/v2/alerts",
        ),
        ("http://me%40corp:s3/cr3t@host:9093", "http://***@host:9093", "http://***@host:9093"),
        ("http://s3cr3t%2540host:9093/x@y", "http://***@y", "http://***@y"),
        ("http://s3cr3t%40host:9093/x@y", "http://***@y", "http://***@y"),
        # A token before an IPv6 address whose zone is '%40' or '%2540' (interface 40):
        # the '@' encoded after the token is the one masked to, not the zone's.
        (
            "http://s3cr3t%40[fe80::1%40]:9093/x",
            "http://***@[fe80::1%40]:9093/x",
            "http://***@[fe80::1%40]:9093/x",
        ),
        (
            "http://ops:s3cr3t%40[fe80::1%40]:9093/x",
            "http://ops:***@[fe80::1%40]:9093/x",
            "http://***@[fe80::1%40]:9093/x",
        ),
        (
            "http://s3cr3t%2540[fe80::1%40]:9093/x",
            "http://***@[fe80::1%40]:9093/x",
            "http://***@[fe80::1%40]:9093/x",
        ),
        (
            "http://s3cr3t%2540[fe80::1%2540]:9093/x",
            "http://***@[fe80::1%2540]:9093/x",
            "http://***@[fe80::1%2540]:9093/x",
        ),
        ("s3cr3t%40[fe80::1%40]:9093", "***@[fe80::1%40]:9093", "***@[fe80::1%40]:9093"),
        ("http://host:9093\x01", "http://host:9093\x01", "http://host:9093\x01"),
        # The host left out: a path's '@' encoded twice is the path's, not a token's end.
        ("http://ops:pw@/x%2540y", "http://ops:***@/x%2540y", "http:///x%2540y"),
        # An '@' encoded twice that opens the host ends a token as one after a user does.
        ("http://%2540host:9093/x", "http://***@host:9093/x", "http://***@host:9093/x"),
    ],
)
def test_each_form_is_exact(url: str, config_form: str, status_form: str | None) -> None:
    """The password is masked and nothing else is: the host and port after it are
    shown as written (the line must still say which address was asked), a user kept in
    the config's form, no '***' where no password was. A form that masks one character
    too few, or an '@' too early, shows a piece of the password; one that masks a
    path's colon or a port's control character hides what the user must correct."""
    assert shown_url(url) == config_form
    if status_form is not None:
        assert shown_bare(url) == status_form


def test_check_config_masks_a_url_whose_only_at_is_percent_encoded() -> None:
    """check-config's output masks a string holding a '%40' and no '@' nor '://'
    (``ops:PASSWORD%40host``, a URL typed without its scheme) as a URL."""
    shown = {"urls": ["ops:s3cr3t%40host:9093"], "name": "ops:team"}
    assert urls_shown(shown) == {"urls": ["ops:***@host:9093"], "name": "ops:team"}


@pytest.mark.parametrize(
    ("url", "named"),
    [
        ("http://s3cr3t%2540host/x", "http://***@host/x"),
        # Capitals in the token, the host with no port: all of it up to the '@' masked.
        ("http://s3cr3t-XYZ%2540host/x", "http://***@host/x"),
        ("https://s3cr3t%2540host:9093/x", "https://***@host:9093/x"),
        ("http://s3cr3t%252540host:9093", "http://***@host:9093"),  # three times
        ("http://s3cr3t%2540[::1]:9093/x", "http://***@[::1]:9093/x"),
        ("http://s3cr3t%2540host:abc", "http://***@host:***"),
        ("s3cr3t%2540host:9093", "***@host:9093"),
        ("http//s3cr3t%2540host:9093", "http//***@host:9093"),
        # An IPv6 address's zone written as RFC 6874 has it ('%25', then interface 40).
        ("http://[fe80::1%2540]:9093/x", "http://[fe80::1%2540]:9093/x"),
        # With a user before it, the password is the parser's port: masked so, as before.
        ("http://ops:s3cr3t%2540host:9093/x", "http://ops:***/x"),
    ],
)
def test_a_token_whose_at_is_percent_encoded_twice_is_masked(url: str, named: str) -> None:
    """A token as the user, its '@' percent-encoded twice (``TOKEN%2540host``, a URL
    encoded once too often): no '@' nor '%40', so both forms, check-config's output, the
    daemon's logs and the config's refusal (its host holds a '%') showed the token
    whole. All up to the last '@' encoded so is masked, as a '%40' is (no host name
    holds a '%')."""
    assert shown_url(url) == named
    assert urls_shown({"urls": [url]}) == {"urls": [named]}  # check-config's output
    assert "s3cr3t" not in shown_bare(url)
    if "[" not in url:  # before a bracketed host, the parser's host is '::1': accepted
        with pytest.raises(ValueError, match=r"^alerts\.sinks\.am\.urls\[0\]: ") as refused:
            check_http_url(url, "alerts.sinks.am.urls[0]")
        assert "s3cr3t" not in str(refused.value)
