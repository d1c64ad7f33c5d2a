"""``[http] web_config``: the Prometheus exporter-toolkit's web configuration file.

The same YAML file Prometheus, Alertmanager and the exporters take with
``--web.config.file`` (``tls_server_config``, ``basic_auth_users``,
``http_server_config``), so one file and one habit lock every port of a
monitoring stack. :func:`parse_web_config` validates the text and does no I/O;
:class:`WebConfigFile` is the reference the config holds, read with the secrets
(:func:`sesd.config.read_secrets`), where the TLS files are also loaded once to
check them. What sesd cannot do with Python's ``ssl`` module is refused by key,
never ignored: a file that asks for more than sesd gives would lock less than
it says.
"""

from __future__ import annotations

import os
import re
import ssl
from pathlib import Path
from typing import Any

import msgspec
import yaml

from sesd.config.reading import open_to_all, read_bounded
from sesd.config.values import ConfigError, Section, keyed, one_line, toml_key

__all__ = [
    "HttpServerConfig",
    "TlsServerConfig",
    "WebConfig",
    "WebConfigFile",
    "parse_web_config",
    "server_context",
]

#: ``min_version``/``max_version`` names, as Go's crypto/tls spells them.
TLS_VERSIONS = {
    "TLS10": ssl.TLSVersion.TLSv1,
    "TLS11": ssl.TLSVersion.TLSv1_1,
    "TLS12": ssl.TLSVersion.TLSv1_2,
    "TLS13": ssl.TLSVersion.TLSv1_3,
}

#: Versions OpenSSL 3 refuses at its default security level: a min_version of one of
#: them is only a floor below TLS 1.2, but no connection can use one.
_NOT_NEGOTIATED = frozenset({"TLS10", "TLS11"})

#: ``client_auth_type`` values Python's ssl can honour. Go's RequestClientCert and
#: RequireAnyClientCert accept a certificate without verifying it; ssl verifies every
#: certificate it asks for, so those are refused rather than made stricter unasked.
CLIENT_AUTH = {
    "NoClientCert": ssl.CERT_NONE,
    "VerifyClientCertIfGiven": ssl.CERT_OPTIONAL,
    "RequireAndVerifyClientCert": ssl.CERT_REQUIRED,
}

#: Keys of the format sesd does not support, and what to do instead.
UNSUPPORTED = {
    "tls_server_config.cert": "inline PEM is not supported; use cert_file",
    "tls_server_config.key": "inline PEM is not supported; use key_file",
    "tls_server_config.client_ca": "inline PEM is not supported; use client_ca_file",
    "tls_server_config.client_allowed_sans": "not supported; sign client certificates "
    "for sesd with a CA of their own (client_ca_file)",
    "tls_server_config.cipher_suites": "not supported; OpenSSL's defaults are used",
    "tls_server_config.curve_preferences": "not supported; OpenSSL's defaults are used",
    "rate_limit": "not supported; limit requests in front of sesd",
}

#: Response headers the format allows, and the values allowed where it lists them.
HEADERS: dict[str, tuple[str, ...]] = {
    "Strict-Transport-Security": (),
    "X-Content-Type-Options": ("nosniff",),
    "X-Frame-Options": ("deny", "sameorigin"),
    "X-XSS-Protection": (),
    "Content-Security-Policy": (),
}

# $2a$, $2b$ or $2y$ (htpasswd's), a two-digit cost, 22 characters of salt and 31 of hash.
_BCRYPT = re.compile(r"\$2[aby]\$(0[4-9]|[12][0-9]|3[01])\$[./A-Za-z0-9]{53}")


class TlsServerConfig(Section, frozen=True):
    """``tls_server_config``: the certificate sesd serves, and client certificates."""

    cert_file: str = ""
    key_file: str = ""
    client_auth_type: str = "NoClientCert"
    client_ca_file: str = ""
    min_version: str = "TLS12"
    max_version: str = "TLS13"
    prefer_server_cipher_suites: bool = True

    def restart_only(self) -> dict[str, object]:
        """What a running listener keeps until a restart: all but the certificate and key."""
        return {
            key: getattr(self, key)
            for key in self.__struct_fields__
            if key not in ("cert_file", "key_file")
        }


class HttpServerConfig(Section, frozen=True):
    """``http_server_config``: response headers."""

    #: The toolkit's default is true; aiohttp serves HTTP/1.1, so true is refused.
    http2: bool = False
    headers: dict[str, str] = {}


class WebConfig(Section, frozen=True):
    """The whole web configuration file."""

    tls_server_config: TlsServerConfig | None = None
    http_server_config: HttpServerConfig = msgspec.field(default_factory=HttpServerConfig)
    #: User name -> bcrypt hash of the password; empty: no authentication.
    basic_auth_users: dict[str, str] = {}


class _StrictLoader(yaml.SafeLoader):
    """YAML where a key given twice is an error (a user listed twice would otherwise
    silently keep the second hash), as the Go YAML parser the toolkit uses has it."""

    def construct_mapping(self, node: yaml.MappingNode, deep: bool = False) -> dict[Any, Any]:
        seen: set[Any] = set()
        for key_node, _ in node.value:
            key = self.construct_object(key_node, deep=deep)
            if isinstance(key, str) and key in seen:
                raise yaml.constructor.ConstructorError(
                    None, None, f"key {key!r} given twice", key_node.start_mark
                )
            seen.add(key)
        return super().construct_mapping(node, deep)


def parse_web_config(text: str, directory: str = ".") -> WebConfig:
    """Parse and validate a web configuration file's text (no I/O); relative file
    names are taken from ``directory`` (the file's own, as the toolkit does). Raises
    ConfigError in one line naming the key (``basic_auth_users.alice: not a bcrypt
    hash``)."""
    try:
        data = yaml.load(text, Loader=_StrictLoader)  # noqa: S506 - a SafeLoader
    except yaml.YAMLError as exc:
        raise ConfigError(f"not valid YAML: {_where(exc)}") from None
    if data is None:
        data = {}  # an empty file: no TLS, no users (the toolkit's reading too)
    if not isinstance(data, dict):
        raise ConfigError("not a mapping of keys (tls_server_config, basic_auth_users...)")
    _refuse_unsupported(data)
    _check_users(data.get("basic_auth_users"))
    try:
        config = msgspec.convert(data, WebConfig)
    except msgspec.ValidationError as exc:
        raise ConfigError(keyed(one_line(exc, schema=WebConfig), data)) from None
    _check_http(config.http_server_config)
    tls = config.tls_server_config
    if tls is None:
        return config
    _check_tls(tls)
    files = {
        key: os.path.join(directory, getattr(tls, key)) if getattr(tls, key) else ""
        for key in ("cert_file", "key_file", "client_ca_file")
    }
    return msgspec.structs.replace(config, tls_server_config=msgspec.structs.replace(tls, **files))


def _where(exc: yaml.YAMLError) -> str:
    """What is wrong and where, without the line itself (it may hold a hash)."""
    if isinstance(exc, yaml.MarkedYAMLError) and exc.problem_mark is not None:
        mark = exc.problem_mark
        return f"{exc.problem} (line {mark.line + 1}, column {mark.column + 1})"
    return str(exc).splitlines()[0]  # a character YAML takes in no file, by its number


def _refuse_unsupported(data: dict[str, Any]) -> None:
    for dotted, why in UNSUPPORTED.items():
        section, _, key = dotted.rpartition(".")
        holder = data.get(section) if section else data
        if isinstance(holder, dict) and key in holder:
            raise ConfigError(f"{dotted}: {why}")


def _check_users(users: Any) -> None:
    """Each user by name: msgspec's own errors would not say which."""
    if not isinstance(users, dict):
        return
    for name, hashed in users.items():
        key = f"basic_auth_users.{toml_key(str(name))}"  # "a.b" is no user b in a
        if not isinstance(name, str):
            raise ConfigError(f"{key}: a user name must be a string (quote it)")
        if ":" in name:
            raise ConfigError(f"{key}: a user name cannot hold ':'")
        if not isinstance(hashed, str) or not _BCRYPT.fullmatch(hashed):
            # The value is a secret of sorts: say what is wrong, never what it is.
            raise ConfigError(f"{key}: not a bcrypt hash")


def _check_http(http: HttpServerConfig) -> None:
    key = "http_server_config"
    if http.http2:
        raise ConfigError(f"{key}.http2: sesd serves HTTP/1.1 only (set false or leave it out)")
    for name, value in http.headers.items():
        header = f"{key}.headers.{toml_key(name)}"
        if name not in HEADERS:
            raise ConfigError(f"{header}: cannot be set (one of {', '.join(HEADERS)})")
        allowed = HEADERS[name]
        if allowed and value not in allowed:
            raise ConfigError(f"{header}: give {' or '.join(allowed)} (got {value!r})")
        if not value.isascii() or any(ord(c) < 0x20 or ord(c) == 0x7F for c in value):
            # Every response, /healthz too, would fail to be written.
            raise ConfigError(f"{header}: a control or non-ASCII character")


def _check_tls(tls: TlsServerConfig) -> None:
    key = "tls_server_config"
    for name in ("cert_file", "key_file"):
        if not getattr(tls, name):
            raise ConfigError(f"{key}.{name}: required with {key}")
    for name in ("min_version", "max_version"):
        if getattr(tls, name) not in TLS_VERSIONS:
            raise ConfigError(
                f"{key}.{name}: give one of {', '.join(TLS_VERSIONS)} (got {getattr(tls, name)!r})"
            )
    if TLS_VERSIONS[tls.min_version] > TLS_VERSIONS[tls.max_version]:
        raise ConfigError(f"{key}.min_version: above max_version")
    if tls.max_version in _NOT_NEGOTIATED:
        raise ConfigError(
            f"{key}.max_version: {tls.max_version} is not negotiated by this Python's "
            "OpenSSL at its security level: give TLS12 or TLS13"
        )
    if tls.client_auth_type not in CLIENT_AUTH:
        raise ConfigError(
            f"{key}.client_auth_type: give one of {', '.join(CLIENT_AUTH)} "
            f"(got {tls.client_auth_type!r}; Python's ssl verifies every client certificate "
            "it asks for)"
        )
    verifies = tls.client_auth_type != "NoClientCert"
    if tls.client_ca_file and not verifies:
        raise ConfigError(f"{key}.client_ca_file: set, but client_auth_type is NoClientCert")
    if verifies and not tls.client_ca_file:
        raise ConfigError(f"{key}.client_ca_file: required by {tls.client_auth_type}")


def server_context(tls: TlsServerConfig) -> ssl.SSLContext:
    """A server-side SSL context for ``tls``, its files loaded; ConfigError names the
    key of a file that cannot be read or loaded."""
    context = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
    context.minimum_version = TLS_VERSIONS[tls.min_version]
    context.maximum_version = TLS_VERSIONS[tls.max_version]
    if tls.prefer_server_cipher_suites:
        context.options |= ssl.OP_CIPHER_SERVER_PREFERENCE
    else:  # Python sets it by default
        context.options &= ~ssl.OP_CIPHER_SERVER_PREFERENCE
    load_chain(context, tls)
    context.verify_mode = CLIENT_AUTH[tls.client_auth_type]
    if tls.client_ca_file:
        try:
            context.load_verify_locations(cafile=_readable(tls, "client_ca_file"))
        except ssl.SSLError as exc:
            raise ConfigError(f"tls_server_config.client_ca_file: {_reason(exc)}") from None
    return context


def load_chain(context: ssl.SSLContext, tls: TlsServerConfig) -> None:
    """Load ``tls``'s certificate and key into ``context``; ConfigError names the file
    at fault."""
    cert, key = _readable(tls, "cert_file"), _readable(tls, "key_file")
    try:
        context.load_cert_chain(cert, key)
    except ssl.SSLError as exc:
        # Which of the two: the certificate alone loads or it does not.
        try:
            ssl.create_default_context(cafile=cert)
        except ssl.SSLError:
            raise ConfigError(
                f"tls_server_config.cert_file: not a PEM certificate ({_reason(exc)})"
            ) from None
        raise ConfigError(
            f"tls_server_config.key_file: not the PEM key of cert_file ({_reason(exc)})"
        ) from None


def _readable(tls: TlsServerConfig, key: str) -> str:
    path: str = getattr(tls, key)
    try:
        with open(path, "rb"):
            pass
    except OSError as exc:
        raise ConfigError(f"tls_server_config.{key}: cannot read {path}: {exc.strerror}") from None
    return path


def _reason(exc: ssl.SSLError) -> str:
    return str(exc.reason or exc.strerror or exc)


class WebConfigFile:
    """``[http] web_config``: the file's name as written, and once :meth:`read` (with
    the secrets: the file holds password hashes and names the private key), its content.

    Environment variables in the name are expanded when it is read, so
    ``"$CREDENTIALS_DIRECTORY/sesd_web.yml"`` works with systemd's LoadCredential=.
    """

    __slots__ = ("_value", "key_open_mode", "reference")

    def __init__(self, reference: str) -> None:
        self.reference = reference
        self._value: WebConfig | None = None
        #: The TLS private key's mode when every user may read it (as read), else None.
        self.key_open_mode: int | None = None

    @property
    def path(self) -> Path:
        """The file, environment variables expanded."""
        return Path(os.path.expandvars(self.reference))

    def read(self) -> WebConfig:
        """Read and validate the file, load its TLS files once to check them, and keep
        the result; ConfigError (without the ``http.web_config`` prefix) when any of it
        fails."""
        path = self.path
        try:
            text = read_bounded(path, what="no web configuration").decode()
        except OSError as exc:
            raise ConfigError(f"cannot read {path}: {exc.strerror}") from None
        except UnicodeDecodeError:
            raise ConfigError(f"{path} is not UTF-8 text") from None
        config = parse_web_config(text, str(path.parent))
        tls = config.tls_server_config
        if tls is not None:
            server_context(tls)
        # As a `file:` secret's (the config's warnings): whoever reads it serves as sesd.
        self.key_open_mode = open_to_all(Path(tls.key_file)) if tls is not None else None
        self._value = config
        return config

    @property
    def is_read(self) -> bool:
        """Whether :meth:`read` has found the content."""
        return self._value is not None

    def get(self) -> WebConfig:
        """What :meth:`read` found."""
        if self._value is None:
            raise RuntimeError("web_config used before it was read")
        return self._value

    def __eq__(self, other: object) -> bool:
        return isinstance(other, WebConfigFile) and other.reference == self.reference

    def __hash__(self) -> int:
        return hash(self.reference)

    def __repr__(self) -> str:
        return f"WebConfigFile({self.reference!r})"
