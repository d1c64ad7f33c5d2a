"""The files a config names besides itself (``file:`` secrets, ``[http] web_config``
and the certificate and key it names), and the config read again with them: what a
rotated Secret or a renewed certificate changes, for a running sesd to follow."""

from __future__ import annotations

import msgspec

from sesd.config import Config, ConfigError, read_secrets
from sesd.config.hooks import dec_hook, source_hook

__all__ = ["followed_files", "reread"]


def reread(config: Config) -> Config:
    """``config`` as it runs, with the files it names read anew (``file:`` secrets, the
    web configuration and the certificate and key it names), its config file not:
    what a rotated Secret or a renewed certificate changes, and nothing else.
    ConfigError names the key of what cannot be read."""
    source = msgspec.to_builtins(config, enc_hook=source_hook)
    try:
        again = msgspec.convert(source, Config, dec_hook=dec_hook)
    except msgspec.ValidationError as exc:  # a check that reads its own output otherwise
        raise ConfigError(f"the config in force does not read back: {exc}") from None
    return read_secrets(again)


def followed_files(config: Config) -> dict[str, str]:
    """path -> key, for each file :func:`reread` reads (the web configuration's as it
    was last read): the files whose change a reload would pick up. ``[aws]``'s keys'
    too: sesd signs with them as read at start, but a rotated one is said to wait for
    a restart (else the old keys, once revoked, failed every receive unannounced)."""
    files = {str(secret.path): key for key, secret in config.secrets() if secret.path is not None}
    web = config.http.web_config
    if web is not None:
        files[str(web.path)] = "http.web_config"
        tls = web.get().tls_server_config if web.is_read else None
        # Not client_ca_file: the listener keeps its CA until a restart.
        for name in ("cert_file", "key_file"):
            if tls is not None and getattr(tls, name):
                files[getattr(tls, name)] = f"http.web_config: tls_server_config.{name}"
    return files
