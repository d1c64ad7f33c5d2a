"""What a new user types first, and gets wrong, in-process: each mistake is one line
that says what to write instead, with the exit status a script can act on."""

from __future__ import annotations

import pytest

from sesd.commands.main import main

pytestmark = pytest.mark.timeout(30)


def test_status_url_with_another_scheme_is_named_as_such(
    capsys: pytest.CaptureFixture[str],
) -> None:
    """An address with a scheme other than http(s) is not one without a scheme: the
    line does not tell the user to write ``http://ftp://...``."""
    assert main(["status", "--url", "ftp://127.0.0.1:9585"]) == 2
    assert capsys.readouterr().err == (
        "sesd: --url 'ftp://127.0.0.1:9585' is not an http(s) address: give it as "
        "http://HOST:PORT or https://HOST:PORT\n"
    )


def test_status_url_scheme_in_capitals_is_taken(capsys: pytest.CaptureFixture[str]) -> None:
    """A scheme is the same in any case (``HTTP://``, as some tools write it): the
    daemon is asked there, and the line names the address as written in lower case."""
    assert main(["status", "--url", "HTTP://127.0.0.1:1"]) == 1
    assert (
        capsys.readouterr().err
        == "sesd: cannot reach sesd at http://127.0.0.1:1: Connection refused\n"
    )
