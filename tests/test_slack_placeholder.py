"""A Slack webhook URL left at an example's placeholder: sesd started on it, and every
alert then failed at Slack, seen in the log alone. It is refused where the URL is read:
by check-config (a literal even without the secrets) and at start, saying what to put
there."""

from __future__ import annotations

import re
from pathlib import Path

import pytest

from sesd.commands.main import main
from sesd.config import ConfigError, load_config, parse_config, read_secrets

ROOT = Path(__file__).parent.parent
#: The Kubernetes Secret example's URL, read from the file operators copy.
SHIPPED = re.findall(
    r'slack-webhook-url: "([^"]+)"', (ROOT / "config/kubernetes/secret.example.yaml").read_text()
)
QUEUE = '[[queues]]\nurl = "https://sqs.eu-west-1.amazonaws.com/123456789012/q"\n'
SAID = (
    "alerts.sinks.slack.webhook_url: an example's placeholder, not a webhook "
    "(REPLACE/ME/PLEASE, T000/B000/XXX or '...' in its path): every notification would "
    "fail; put there the channel's Webhook URL from the Slack app's Incoming Webhooks page "
    "(https://api.slack.com/apps), https://hooks.slack.com/services/ then three parts of "
    "letters and digits (value not shown)"
)


def _config(tmp_path: Path, url: str, *, in_file: bool) -> Path:
    """A config whose Slack sink's URL is ``url``, written in it or in a secret's file."""
    (tmp_path / "slack").write_text(url + "\n", encoding="utf-8")
    written = f"file:{tmp_path / 'slack'}" if in_file else url
    path = tmp_path / "sesd.toml"
    path.write_text(
        QUEUE + f'[alerts.sinks.slack]\ntype = "slack"\nwebhook_url = "{written}"\n'
        '[[alerts.rules]]\nname = "r"\nmetric = "delay_ratio"\nwindow = "15m"\nabove = 0.1\n'
        'sinks = ["slack"]\n',
        encoding="utf-8",
    )
    return path


def test_the_shipped_placeholder_is_the_one_refused() -> None:
    """The example ships one URL, and it is a placeholder."""
    assert SHIPPED == ["https://hooks.slack.com/services/REPLACE/ME/PLEASE"]


@pytest.mark.parametrize(
    "url",
    [
        *SHIPPED,
        # Slack's documentation's, in full and shortened.
        "https://hooks.slack.com/services/T00000000/B00000000/XXXXXXXXXXXXXXXXXXXXXXXX",
        "https://hooks.slack.com/services/T000/B000/XXX",
        # README's, in a warning: the rest of the URL left to fill in.
        "https://hooks.slack.com/services/...",
        # Written otherwise, the same host to the client.
        "https://Hooks.Slack.com./services/replace/me/please",
    ],
)
def test_a_placeholder_is_refused_at_check_config_and_start(
    url: str, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    """Read from a secret's file, it is refused by check-config and by the daemon's
    load; written in the config, by check-config without the secrets too (what a
    reload under systemd runs first). The line says what to put there, never the
    value."""
    path = _config(tmp_path, url, in_file=True)
    assert main(["check-config", str(path)]) == 2
    assert capsys.readouterr().err.strip().endswith(SAID)
    with pytest.raises(ConfigError) as refused:
        load_config(path, daemon=True)
    assert str(refused.value).endswith(SAID)
    assert url not in str(refused.value)
    assert main(["check-config", "--no-secrets", "--quiet", str(path)]) == 0
    capsys.readouterr()
    literal = _config(tmp_path, url, in_file=False)
    assert main(["check-config", "--no-secrets", "--quiet", str(literal)]) == 2
    err = capsys.readouterr().err
    assert err.strip().endswith(SAID)
    assert url not in err


@pytest.mark.parametrize(
    "url",
    [
        "https://hooks.slack.com/services/T0AB12CD3/B0EF45GH6/abcdEFGHijklMNOPqrstUVWX",
        # Made-up URLs of other tests, and a relay's path with such words: not Slack's.
        "https://hooks.slack.com/services/T0/B0/X",
        "http://127.0.0.1:8080/services/REPLACE/ME/PLEASE",
        # Slack's workflow triggers are not under /services/.
        "https://hooks.slack.com/triggers/T0AB12CD3/1234567890/abcdef0123456789",
    ],
)
def test_a_webhook_url_is_taken(url: str) -> None:
    """A URL of a webhook, or of a receiver of one's own, loads as before."""
    text = f'[alerts.sinks.slack]\ntype = "slack"\nwebhook_url = "{url}"\n'
    read_secrets(parse_config(text))
