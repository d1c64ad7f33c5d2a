"""``[http] web_config``: the exporter-toolkit's web configuration file, parsed without
I/O, read with the secrets, every error one line naming the key."""

from __future__ import annotations

import os
import ssl
from pathlib import Path

import bcrypt
import pytest
import trustme

from sesd.commands.main import main
from sesd.config import ConfigError, parse_config, parse_web_config, read_secrets
from sesd.config.reading import CONFIG_BOUND
from sesd.config.web import UNSUPPORTED

ROOT = Path(__file__).parent.parent
EXAMPLE = ROOT / "config" / "web.example.yml"
# A fixed salt: the hash is part of test ids, which must be the same in every process.
HASH = bcrypt.hashpw(b"secret", b"$2b$04$sesdtestsaltsesdtestse").decode()


def tls_files(directory: Path, ca: trustme.CA | None = None) -> trustme.CA:
    """A CA, and tls.crt and tls.key in ``directory``: a certificate for 127.0.0.1 and
    localhost it signed."""
    ca = ca or trustme.CA()
    leaf = ca.issue_cert("127.0.0.1", "localhost")
    leaf.cert_chain_pems[0].write_to_path(str(directory / "tls.crt"))
    leaf.private_key_pem.write_to_path(str(directory / "tls.key"))
    return ca


def _config(directory: Path, web: str | None, *, web_config: str = "web.yml") -> Path:
    """sesd.toml with one queue naming ``web_config``, and that file holding ``web``."""
    if web is not None:
        (directory / "web.yml").write_text(web)
    path = directory / "sesd.toml"
    path.write_text(
        '[[queues]]\nurl = "http://127.0.0.1:9/q"\n'
        f'[http]\nweb_config = "{directory / web_config}"\n'
    )
    return path


def _error(text: str) -> str:
    with pytest.raises(ConfigError) as caught:
        parse_web_config(text)
    return str(caught.value)


def test_an_empty_file_locks_nothing() -> None:
    """An empty file (the toolkit takes it too): no TLS, no users, no headers."""
    config = parse_web_config("")
    assert config.tls_server_config is None
    assert config.basic_auth_users == {}
    assert config.http_server_config.headers == {}


def test_the_example_parses_with_its_files_beside_it() -> None:
    """config/web.example.yml is valid, and its relative names are taken from its own
    directory, as the toolkit takes them; its two hashes are real bcrypt hashes of the
    passwords its comment gives."""
    config = parse_web_config(EXAMPLE.read_text(), "/etc/sesd")
    tls = config.tls_server_config
    assert tls is not None
    assert (tls.cert_file, tls.key_file, tls.min_version) == (
        "/etc/sesd/tls.crt",
        "/etc/sesd/tls.key",
        "TLS12",
    )
    assert config.http_server_config.headers == {
        "X-Content-Type-Options": "nosniff",
        "X-Frame-Options": "deny",
    }
    users = config.basic_auth_users
    assert bcrypt.checkpw(b"change-me-prometheus", users["prometheus"].encode())
    assert bcrypt.checkpw(b"change-me-probe", users["probe"].encode())


def test_absolute_names_and_htpasswd_hashes_are_kept() -> None:
    """An absolute name stays as written; htpasswd's $2y$ hashes are bcrypt hashes."""
    htpasswd = bcrypt.hashpw(b"pw", bcrypt.gensalt(4)).decode().replace("$2b$", "$2y$", 1)
    config = parse_web_config(
        "tls_server_config:\n  cert_file: /pki/a.crt\n  key_file: b.key\n"
        f"basic_auth_users:\n  alice: {htpasswd}\n",
        "/etc/sesd",
    )
    assert config.tls_server_config is not None
    assert config.tls_server_config.cert_file == "/pki/a.crt"
    assert config.tls_server_config.key_file == "/etc/sesd/b.key"
    assert config.basic_auth_users == {"alice": htpasswd}


@pytest.mark.parametrize(
    ("text", "error"),
    [
        ("basic_auth_users:\n  alice: secret\n", "basic_auth_users.alice: not a bcrypt hash"),
        ("basic_auth_users:\n  alice: 12\n", "basic_auth_users.alice: not a bcrypt hash"),
        (
            f"basic_auth_users:\n  alice: {HASH}\n  alice: {HASH}\n",
            "not valid YAML: key 'alice' given twice (line 3, column 3)",
        ),
        (f"basic_auth_users:\n  'a:b': {HASH}\n", 'basic_auth_users."a:b": a user name cannot'),
        # A name that is no bare key quoted, as the config's are: not a user "b" in "a".
        ("basic_auth_users:\n  'a.b': x\n", 'basic_auth_users."a.b": not a bcrypt hash'),
        ("basic_auth_users:\n  '': x\n", 'basic_auth_users."": not a bcrypt hash'),
        (f"basic_auth_users:\n  yes: {HASH}\n", "basic_auth_users.True: a user name must be"),
        # A typo is named with the key meant, as in the config file.
        ("basic_auth_user: {}\n", "basic_auth_user: unknown key (did you mean basic_auth_users?)"),
        (
            "tls_server_config:\n  cert_fil: a\n",
            "tls_server_config.cert_fil: unknown key (did you mean cert_file?)",
        ),
        ("tls_server_config:\n  key_file: a\n", "tls_server_config.cert_file: required"),
        ("tls_server_config:\n  cert_file: a\n", "tls_server_config.key_file: required"),
        (
            "tls_server_config:\n  cert_file: a\n  key_file: b\n  min_version: TLS14\n",
            "tls_server_config.min_version: give one of TLS10, TLS11, TLS12, TLS13",
        ),
        (
            "tls_server_config:\n  cert_file: a\n  key_file: b\n  min_version: TLS13\n"
            "  max_version: TLS12\n",
            "tls_server_config.min_version: above max_version",
        ),
        (
            "tls_server_config:\n  cert_file: a\n  key_file: b\n"
            "  client_auth_type: RequireAndVerifyClientCert\n",
            "tls_server_config.client_ca_file: required by RequireAndVerifyClientCert",
        ),
        (
            "tls_server_config:\n  cert_file: a\n  key_file: b\n  client_ca_file: c\n",
            "tls_server_config.client_ca_file: set, but client_auth_type is NoClientCert",
        ),
        (
            "http_server_config:\n  headers:\n    X-Powered-By: sesd\n",
            "http_server_config.headers.X-Powered-By: cannot be set",
        ),
        # A header's value of another type: the header named, not msgspec's [...].
        (
            "http_server_config:\n  headers:\n    X-Frame-Options: [deny]\n",
            "http_server_config.headers.X-Frame-Options: Expected `str`, got `array`",
        ),
        (
            "http_server_config:\n  headers:\n    X-Frame-Options: allow\n",
            "http_server_config.headers.X-Frame-Options: give deny or sameorigin",
        ),
        (
            "http_server_config:\n  headers:\n"
            '    Content-Security-Policy: "a\\r\\nX-Injected: 1"\n',
            "http_server_config.headers.Content-Security-Policy: a control or non-ASCII",
        ),
        (
            "tls_server_config:\n  cert_file: a\n  key_file: b\n  min_version: TLS10\n"
            "  max_version: TLS11\n",
            "tls_server_config.max_version: TLS11 is not negotiated by this Python's OpenSSL",
        ),
        ("- a\n", "not a mapping of keys"),
        ("a: \x00\n", "not valid YAML: unacceptable character #x0000"),
        ("a: [\n", "not valid YAML: expected the node content, but found '<stream end>' (line 2,"),
    ],
)
def test_a_wrong_file_is_one_line_naming_the_key(text: str, error: str) -> None:
    assert _error(text).startswith(error)


@pytest.mark.parametrize("key", sorted(UNSUPPORTED))
def test_a_key_sesd_cannot_honour_is_refused_by_name(key: str) -> None:
    """A key the toolkit has and sesd does not is refused, never ignored: the file
    would lock less than it says."""
    section, _, name = key.rpartition(".")
    text = f"{section}:\n  cert_file: a\n  key_file: b\n  {name}: x\n" if section else f"{key}: x\n"
    assert _error(text).startswith(f"{key}: ")


@pytest.mark.parametrize(
    ("text", "error"),
    [
        (
            "tls_server_config:\n  cert_file: a\n  key_file: b\n  client_auth_type: "
            "RequireAnyClientCert\n",
            "tls_server_config.client_auth_type: give one of NoClientCert, "
            "VerifyClientCertIfGiven, RequireAndVerifyClientCert (got 'RequireAnyClientCert'",
        ),
        ("http_server_config:\n  http2: true\n", "http_server_config.http2: sesd serves HTTP/1.1"),
    ],
)
def test_what_pythons_ssl_and_aiohttp_cannot_do_is_refused(text: str, error: str) -> None:
    assert _error(text).startswith(error)


def test_http2_false_is_what_sesd_does_anyway() -> None:
    config = parse_web_config("http_server_config:\n  http2: false\n")
    assert config.http_server_config.http2 is False


def test_a_wrong_file_fails_check_config_and_run_naming_the_key(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    """check-config and run read the file with the secrets: exit 2 and one line."""
    path = str(_config(tmp_path, "basic_auth_users:\n  alice: hunter2\n"))
    expected = (
        f"sesd: config error: {path}:4: http.web_config: basic_auth_users.alice: not a bcrypt "
        "hash\n"
    )
    assert main(["check-config", path]) == 2
    assert capsys.readouterr().err == expected
    assert main(["run", "--config", path]) == 2
    assert capsys.readouterr().err == expected
    assert "hunter2" not in expected


def test_check_config_shows_the_files_name_and_no_secrets_leaves_it_unread(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    """The file is shown by name; a config repository's CI without it checks the rest
    with --no-secrets."""
    path = str(_config(tmp_path, None, web_config="missing.yml"))
    assert main(["check-config", path]) == 2
    assert capsys.readouterr().err.startswith(
        f"sesd: config error: {path}:4: http.web_config: cannot read {tmp_path / 'missing.yml'}: "
    )
    assert main(["check-config", path, "--no-secrets"]) == 0
    assert f'"web_config": "{tmp_path / "missing.yml"}"' in capsys.readouterr().out


def test_a_file_that_is_not_text_is_named(tmp_path: Path) -> None:
    config = parse_config(_config(tmp_path, None).read_text())
    (tmp_path / "web.yml").write_bytes(b"\xff\xfe")
    with pytest.raises(ConfigError) as caught:
        read_secrets(config)
    assert str(caught.value) == f"http.web_config: {tmp_path / 'web.yml'} is not UTF-8 text"


def test_a_file_too_large_for_a_web_configuration_is_named_unread(tmp_path: Path) -> None:
    """web_config naming a log or a device by mistake is refused with the bound, not
    read whole into memory first."""
    config = parse_config(_config(tmp_path, None).read_text())
    with (tmp_path / "web.yml").open("wb") as handle:
        handle.truncate(CONFIG_BOUND + 1)
    with pytest.raises(ConfigError) as caught:
        read_secrets(config)
    assert str(caught.value) == (
        f"http.web_config: cannot read {tmp_path / 'web.yml'}: larger than 8 MiB, which no "
        "web configuration is (a log, a dump or a device named?)"
    )


def test_the_tls_files_are_loaded_once_to_check_them(tmp_path: Path) -> None:
    """A missing file, a certificate that is not one, a key that is not the
    certificate's: each names its key."""
    web = "tls_server_config:\n  cert_file: tls.crt\n  key_file: tls.key\n"
    config = parse_config(_config(tmp_path, web).read_text())

    def error() -> str:
        with pytest.raises(ConfigError) as caught:
            read_secrets(config)
        return str(caught.value)

    assert error().startswith("http.web_config: tls_server_config.cert_file: cannot read ")
    tls_files(tmp_path)
    read_secrets(config)  # valid
    key = (tmp_path / "tls.key").read_bytes()
    other = trustme.CA().issue_cert("127.0.0.1")
    other.private_key_pem.write_to_path(str(tmp_path / "tls.key"))
    assert error().startswith("http.web_config: tls_server_config.key_file: not the PEM key of")
    (tmp_path / "tls.key").write_bytes(key)
    (tmp_path / "tls.crt").write_text("not a certificate\n")
    assert error().startswith("http.web_config: tls_server_config.cert_file: not a PEM cert")


def test_prefer_server_cipher_suites_false_is_honoured(tmp_path: Path) -> None:
    """Python's ssl prefers the server's order by default: false clears it."""
    from sesd.config.web import parse_web_config, server_context

    tls_files(tmp_path)
    web = "tls_server_config:\n  cert_file: tls.crt\n  key_file: tls.key\n"
    for value, preferred in (("true", True), ("false", False)):
        text = web + f"  prefer_server_cipher_suites: {value}\n"
        config = parse_web_config(text, str(tmp_path)).tls_server_config
        assert config is not None
        context = server_context(config)
        assert bool(context.options & ssl.OP_CIPHER_SERVER_PREFERENCE) is preferred


def test_the_client_ca_file_is_checked(tmp_path: Path) -> None:
    tls_files(tmp_path)
    (tmp_path / "ca.crt").write_text("no\n")
    web = (
        "tls_server_config:\n  cert_file: tls.crt\n  key_file: tls.key\n"
        "  client_auth_type: VerifyClientCertIfGiven\n  client_ca_file: ca.crt\n"
    )
    config = parse_config(_config(tmp_path, web).read_text())
    with pytest.raises(ConfigError) as caught:
        read_secrets(config)
    assert str(caught.value).startswith("http.web_config: tls_server_config.client_ca_file: ")


def test_the_files_name_expands_environment_variables(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """``$CREDENTIALS_DIRECTORY/sesd_web.yml``: systemd's LoadCredential= works, the
    certificate and key beside it as credentials too (README, systemd/sesd.service)."""
    monkeypatch.setenv("CREDENTIALS_DIRECTORY", str(tmp_path))
    leaf = trustme.CA().issue_cert("sesd.example")
    leaf.cert_chain_pems[0].write_to_path(str(tmp_path / "sesd_tls.crt"))
    leaf.private_key_pem.write_to_path(str(tmp_path / "sesd_tls.key"))
    (tmp_path / "sesd_web.yml").write_text(
        "tls_server_config:\n  cert_file: sesd_tls.crt\n  key_file: sesd_tls.key\n"
        f"basic_auth_users:\n  alice: {HASH}\n"
    )
    config = read_secrets(
        parse_config('[http]\nweb_config = "$CREDENTIALS_DIRECTORY/sesd_web.yml"\n')
    )
    assert config.http.web is not None
    assert config.http.web.basic_auth_users == {"alice": HASH}
    assert config.http.web.tls_server_config is not None
    assert config.http.web.tls_server_config.cert_file == str(tmp_path / "sesd_tls.crt")
    assert config.to_display()["http"]["web_config"] == "$CREDENTIALS_DIRECTORY/sesd_web.yml"
    assert os.environ["CREDENTIALS_DIRECTORY"] == str(tmp_path)


def test_without_a_file_the_port_is_open_as_before() -> None:
    config = read_secrets(parse_config(""))
    assert config.http.web_config is None
    assert config.http.web is None
