"""``sesd status --url`` mistyped: a usage error (status 2) whose line says what is
wrong; for a scheme mistyped, the address as meant, not one that doubles the scheme."""

from __future__ import annotations

import argparse
from pathlib import Path

import pytest

from sesd.commands.main import main

pytestmark = pytest.mark.timeout(30)


@pytest.mark.parametrize(
    ("url", "meant"),
    [
        ("http:/127.0.0.1:9585", "http://127.0.0.1:9585"),
        ("http//127.0.0.1:9585", "http://127.0.0.1:9585"),
        ("HTTPS:127.0.0.1:9585/", "https://127.0.0.1:9585/"),
        ("http:/[::1]:9585", "http://[::1]:9585"),
    ],
)
def test_a_scheme_mistyped_is_told_how_to_write_it(
    capsys: pytest.CaptureFixture[str], url: str, meant: str
) -> None:
    """A slash or colon left out of the scheme was said to have no scheme, to be written
    ``http://http:/127.0.0.1:9585``."""
    assert main(["status", "--url", url]) == 2
    assert capsys.readouterr().err == (
        f"sesd: --url {url!r} has its scheme mistyped: give it as {meant}\n"
    )


def test_a_password_in_a_mistyped_address_is_not_printed(
    capsys: pytest.CaptureFixture[str],
) -> None:
    """The line names the address without the user and password written into it."""
    assert main(["status", "--url", "http:/ops:planted-secret@127.0.0.1:9585"]) == 2
    assert capsys.readouterr().err == (
        "sesd: --url 'http:/127.0.0.1:9585' has its scheme mistyped: give it as "
        "http://127.0.0.1:9585\n"
    )


@pytest.mark.parametrize(
    ("url", "said"),
    [
        (
            "http:/\n/x",
            "--url 'http:/\\n/x' has its scheme mistyped: give it as http://\\u000a/x",
        ),
        (
            "http:/x\x1b]0;t\x07",
            "--url 'http:/x\\x1b]0;t\\x07' has its scheme mistyped: give it as "
            "http://x\\u001b]0;t\\u0007",
        ),
        (
            "host\x1b[2J",
            "--url 'host\\x1b[2J' has no scheme: give it as http://host\\u001b[2J or "
            "https://host\\u001b[2J",
        ),
    ],
)
def test_a_control_character_typed_in_the_address_is_shown_escaped(
    capsys: pytest.CaptureFixture[str], url: str, said: str
) -> None:
    """The address as meant, after "give it as", was the typed text as it is: a line
    break split the error in two, and an escape sequence (ESC) reached the terminal,
    where it can clear the screen or set its title. It is escaped, the line one line."""
    assert main(["status", "--url", url]) == 2
    assert capsys.readouterr().err == f"sesd: {said}\n"


def test_a_control_character_typed_in_the_user_is_shown_escaped(
    capsys: pytest.CaptureFixture[str],
) -> None:
    """--user given beside a password written into --url is named in the usage error:
    its escape sequence reached the terminal as typed."""
    assert main(["status", "--user", "ops\x1b[2J", "--url", "http://ops:pw@127.0.0.1:1"]) == 2
    assert capsys.readouterr().err == (
        "sesd: --user ops\\u001b[2J and a user and password written into --url "
        "http://127.0.0.1:1: give one\n"
    )


def test_a_host_named_http_with_its_port_is_a_host(capsys: pytest.CaptureFixture[str]) -> None:
    """``http:9585`` is a host named http and its port, written without a scheme."""
    assert main(["status", "--url", "http:9585"]) == 2
    assert capsys.readouterr().err == (
        "sesd: --url 'http:9585' has no scheme: give it as http://http:9585 or https://http:9585\n"
    )


def test_spaces_around_a_pasted_address_are_not_its_text(
    capsys: pytest.CaptureFixture[str],
) -> None:
    """A space pasted before the address made it one without a scheme, to be written
    ``http:// http://...``: the daemon is asked at the address."""
    assert main(["status", "--url", " http://127.0.0.1:1 "]) == 1
    assert (
        capsys.readouterr().err
        == "sesd: cannot reach sesd at http://127.0.0.1:1: Connection refused\n"
    )


def test_an_ipv6_address_with_its_zone_is_asked() -> None:
    """A '%' in a host name is a usage error (an '@' percent-encoded leaves a user and
    password there), not in an IPv6 address, whose zone follows one."""
    from sesd.commands.status_url import askable

    assert askable("http://[fe80::1%25lo]:1", given=True) == "http://[fe80::1%25lo]:1"


@pytest.mark.parametrize(("scheme", "port"), [("http", 80), ("https", 443)])
def test_an_address_without_a_port_says_which_was_asked(
    capsys: pytest.CaptureFixture[str], scheme: str, port: int
) -> None:
    """``--url http://127.0.0.1`` asks port 80, where no sesd listens unless told: the
    line ended ``Connection refused``, leaving the user to guess that 9585 was not
    asked. (Whatever port 80 answers here, the line says which port was.)"""
    assert main(["status", "--url", f"{scheme}://127.0.0.1"]) == 1
    err = capsys.readouterr().err
    reached = f"sesd: cannot reach sesd at {scheme}://127.0.0.1: "
    answered = f"sesd: {scheme}://127.0.0.1/api/v1/status "  # something else at 80
    assert err.startswith((reached, answered)), err
    assert err.endswith(
        f" (the address names no port, so {port} was asked: sesd listens on 9585 unless "
        "its [http] listen says otherwise)\n"
    )
    assert err.count("\n") == 1


@pytest.mark.parametrize("answered", [False, True])
def test_a_watch_says_which_port_was_asked_only_until_a_sesd_answers(answered: bool) -> None:
    """``sesd status --watch --url https://sesd.example.com`` (a proxy on 443, before
    sesd's 9585): once a sesd has answered there, a try that fails (a restart) is at
    the right address, and the line said all the same that no port was named and 443
    was asked where sesd listens on 9585, sending the user to change a right address.
    It says which port was asked only while no sesd has answered (as for the default
    address)."""
    from sesd.commands.status import _hints
    from sesd.commands.status_fetch import Unreachable

    url = "https://sesd.example.com"
    args = _args(["status", "--watch", "--url", url])
    hint = _hints(Unreachable("Connection refused"), url, args, ever=answered)
    assert ("names no port" in hint) is not answered, hint


def test_an_address_whose_port_is_none_adds_no_port_note() -> None:
    """A port that is no number has a line of its own saying so: the note that no port
    was named, and which was asked, is not added to it."""
    from sesd.commands.status_url import no_port

    assert no_port("http://127.0.0.1:x") == ""
    assert no_port("http://127.0.0.1:99999") == ""
    assert "names no port" in no_port("http://127.0.0.1")


def _args(argv: list[str]) -> argparse.Namespace:
    """``argv`` as sesd's parser reads it."""
    from sesd.commands.main import _parser

    return _parser(argv[0]).parse_args(argv)


@pytest.mark.parametrize("url", ["", "  "])
def test_an_empty_address_is_a_usage_error(capsys: pytest.CaptureFixture[str], url: str) -> None:
    """``--url "$SESD_URL"`` with the variable unset asked the default address
    (127.0.0.1:9585), so a script meant for a remote daemon read the local one's, or
    none; a blank one was to be written ``http://  ``."""
    assert main(["status", "--url", url]) == 2
    assert capsys.readouterr().err == (
        "sesd: --url is empty: give it as http://HOST:PORT or https://HOST:PORT\n"
    )


@pytest.mark.parametrize(
    ("url", "said"),
    [
        ("http://host:abc", "'http://host:***' is not a URL: its port"),
        ("http://127.0.0.1:99999", "'http://127.0.0.1:99999' is not a URL: its port '99999'"),
        ("https://[::1]:95x5/metrics", "'https://[::1]:***/metrics' is not a URL: its port"),
        ("http://ops:planted-secret@h:x", "'http://h:***' is not a URL: its port"),
        # A password typed with no '@' the parser sees (the host forgotten, or its '@'
        # percent-encoded twice) is its port, in the parser's view.
        ("http://ops:planted-secret", "'http://ops:***' is not a URL: its port"),
        ("http://ops:planted-secret%2540h:1/", "'http://ops:***/' is not a URL: its port"),
        ("http://ops:http", "'http://ops:***' is not a URL: its port"),
        # A password of digits alone is told from a port by its length: none has six.
        ("http://ops:123456", "'http://ops:***' is not a URL: its port"),
        ("https://ops:0123456/x", "'https://ops:***/x' is not a URL: its port"),
        # A second colon typed in: the port is all that follows the host's.
        ("http://127.0.0.1:80:90", "'http://127.0.0.1:***' is not a URL: its port"),
        # Nothing listens on port 0 (a daemon told it takes any free port): a
        # connection there is refused whether sesd runs or not.
        ("http://127.0.0.1:0", "'http://127.0.0.1:0' is not a URL: its port '0'"),
        ("http://[::1]:00/", "'http://[::1]:00/' is not a URL: its port '00'"),
    ],
)
def test_a_port_that_is_none_is_a_usage_error(
    capsys: pytest.CaptureFixture[str], url: str, said: str
) -> None:
    """A port that is no number, or past 65535, is the command line's mistake, as a
    scheme left out is: exit 2, the line saying what the port should be. It was asked
    all the same and exited 1, "cannot reach sesd at ...", as if a daemon were down
    there (a script retrying it for ever). A password written in is not printed, nor a
    port that is no number: it may be a password the parser reads as the port."""
    assert main(["status", "--url", url]) == 2
    assert capsys.readouterr().err == f"sesd: --url {said} is no number from 1 to 65535\n"


@pytest.mark.parametrize("variable", [False, True])
def test_a_daemon_at_port_0_is_asked_for_its_port(
    capsys: pytest.CaptureFixture[str],
    monkeypatch: pytest.MonkeyPatch,
    tmp_path: Path,
    variable: bool,
) -> None:
    """A daemon told to listen on port 0 takes any free port, which its config does not
    name: asking port 0 said "cannot reach sesd" (exit 1) as if it were down. The
    line names where port 0 was read, not an --url that was never given."""
    path = tmp_path / "sesd.toml"
    path.write_text(
        '[aws]\nregion = "eu-west-1"\n[[queues]]\n'
        'url = "https://sqs.eu-west-1.amazonaws.com/123456789012/q"\n'
        '[http]\nlisten = "127.0.0.1:0"\n'
    )
    if variable:
        monkeypatch.setenv("SESD_HTTP_LISTEN", "0.0.0.0:0")
    else:
        monkeypatch.delenv("SESD_HTTP_LISTEN", raising=False)
    assert main(["status", "--config", str(path)]) == 2
    where = "SESD_HTTP_LISTEN" if variable else "http.listen"
    assert capsys.readouterr().err == (
        f"sesd: {where}: names port 0 (any free port): give the port sesd took as"
        " --url http://HOST:PORT\n"
    )


@pytest.mark.parametrize("url", ["http://", "http://:9585", "https://ops:planted-secret@/x"])
def test_an_address_that_names_no_host_is_a_usage_error(
    capsys: pytest.CaptureFixture[str], url: str
) -> None:
    """``http://:9585`` (a host variable unset in a script) was asked and exited 1 as an
    address where no daemon answered: the address names no host, a usage error."""
    assert main(["status", "--url", url]) == 2
    err = capsys.readouterr().err
    assert err.endswith(" is not a URL: it names no host\n")
    assert "planted-secret" not in err
    assert err.count("\n") == 1


@pytest.mark.parametrize(
    ("url", "host"),
    [
        ("http://sesd..example:9585", "sesd..example"),  # a dot typed twice
        ("http://.sesd.example:9585", ".sesd.example"),
        (f"https://{'a' * 64}.example/", f"{'a' * 64}.example"),  # a label past 63
        ("http://sesd\u200b.example:9585", "sesd\u200b.example"),  # pasted with a ZWSP
        ("http://\u202eexample.sesd:9585", "\u202eexample.sesd"),  # turns the line around
        ("http://se\x1bcsd:9585", "se\x1bcsd"),  # ESC c resets a terminal
    ],
)
def test_a_host_that_is_no_host_name_is_a_usage_error(
    capsys: pytest.CaptureFixture[str], url: str, host: str
) -> None:
    """A host name with an empty label (a dot typed twice) or a label over 63
    characters can be looked up by no resolver: the lookup's UnicodeError ended the
    command with a traceback (status 1). A control, zero-width or bidirectional
    character in it (pasted with the address) was asked for, and printed as it is. It
    is the command line's mistake: status 2, one line naming the host, escaped."""
    assert main(["status", "--url", url]) == 2
    assert capsys.readouterr().err == (
        f"sesd: --url {url!r} is not a URL: its host {host!r} is no host name (an empty "
        "label, one over 63 characters, or a character no host name has)\n"
    )


def test_a_listen_address_whose_host_is_no_host_name_is_a_usage_error(
    capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    """The same host in $SESD_HTTP_LISTEN (no --url): the line names the variable."""
    monkeypatch.setenv("SESD_HTTP_LISTEN", "sesd..example:9585")
    assert main(["status"]) == 2
    assert capsys.readouterr().err == (
        "sesd: SESD_HTTP_LISTEN: its host 'sesd..example' is no host name (an empty label, "
        "one over 63 characters, or a character no host name has)\n"
    )


@pytest.mark.parametrize(
    "url",
    [
        "http:///ops:s3c-r3t@127.0.0.1:1",  # a third slash: no host, in the parser's view
        "http:////s3c-r3t@127.0.0.1:1",
        "HTTP:///ops:s3c-r3t@127.0.0.1:1",
        "http:\\\\ops:s3c-r3t@127.0.0.1:1",
        "http:/\\ops:s3c-r3t@127.0.0.1:1",
        "ops:s3c/r3t@127.0.0.1:1",
        "http:/ops:s3c/r3t@127.0.0.1:1",
        # A '/', '?' or '#' in a password, not percent-encoded, ends the parser's host.
        "http://ops:s3c/r3t@127.0.0.1:1",
        "http://ops:s3c?r3t@127.0.0.1:1",
        "http://ops:s3c#r3t@127.0.0.1:1",
        "http://localhost:1s3c/r3t@127.0.0.1:1",
        "http://s3c/r3t@127.0.0.1:1",  # a token as the user, holding a '/'
        "http://ops:s3c\\r3t@127.0.0.1:1",
        # The '@' percent-encoded: no user in the parser's view, the port all after it.
        "http://ops:s3c-r3t%40127.0.0.1:1",
        "http://s3c-r3t%40127.0.0.1:1",
        "http://ops:s3c@r3t@127.0.0.1:1",
        "http://ops:s3c%40r3t@127.0.0.1:1",
        "http://s3c-r3t@127.0.0.1:1",
        "https://ops:s3c-r3t@[::1]:1",
        "http://ops:s3c-r3t@[::1]:x",
        "http://ops:s3c-r3t@h..x:1",
        # An '@' the parser reads only once NFKC-normalised (a full-width one), and a
        # user and password inside the brackets: the parser's error quotes them.
        "http://ops:s3c-r3t\uff20127.0.0.1:1",
        "http://ops:s3c-r3t\ufe6b127.0.0.1:1",
        "http://[ops:s3c-r3t@::1]:1",
        # No '@' the parser sees: the password is the port of a host named as the user.
        "http://ops:s3c-r3t",
        "http://ops:s3c-r3t%2540127.0.0.1:1",
        # A token as the user, its '@' percent-encoded twice: in the parser's host.
        "http://s3c-r3t%2540127.0.0.1:1",
        "ops:s3c-r3t",
        "http:ops:s3c-r3t",
    ],
)
def test_no_address_typed_prints_its_password(capsys: pytest.CaptureFixture[str], url: str) -> None:
    """Whatever form the address is typed in (a slash too many, backslashes, no scheme,
    a password holding a character the parser ends the host at, the '@' percent-encoded),
    the line sesd status prints of it holds no part of the password or token: a third
    slash printed it whole, as the address that names no host."""
    assert main(["status", "--url", url]) in (1, 2)
    captured = capsys.readouterr()
    assert "s3c" not in captured.err + captured.out, captured.err
    assert "r3t" not in captured.err + captured.out, captured.err
    assert captured.err.count("\n") == 1


@pytest.mark.parametrize(
    ("url", "named"),
    [
        ("http://ops:s3c/r3t@127.0.0.1:9585", "http://***@127.0.0.1:9585"),
        ("http://ops:s3c/r3t@127.0.0.1:95x5", "http://***@127.0.0.1:***"),
        # A proxy's prefix holding an '@': which was meant cannot be told.
        ("http://127.0.0.1:9585/sesd@team/", "http://***@team/"),
    ],
)
def test_a_password_holding_a_slash_is_told_how_to_write_it(
    capsys: pytest.CaptureFixture[str], url: str, named: str
) -> None:
    """``ops:pa/ss@host``: the parser reads host "ops" and the port "pa"; asked, the
    line quoted the port (the password's start). It is a usage error saying how to
    write such a password, naming the address with all up to its last '@' masked; and
    how to write an '@' in a proxy's prefix, which was refused without a word of it."""
    assert main(["status", "--url", url]) == 2
    assert capsys.readouterr().err == (
        f"sesd: --url {named!r} is not a URL: an '@' follows its host "
        "(a '/', '?' or '#' in a user or password is written percent-encoded: %2F, %3F, "
        "%23; an '@' in a path, %40)\n"
    )
