"""Credentials: SQL source URLs without passwords in params.yaml, the password from the environment, and redaction.

The rule (README "SQL sources and passwords", SECURITY.md): `ingest.source` never carries a password. The
password lives in the environment variable that `ingest.password_env` names and is joined to the URL only
in memory, just before connecting. Every URL that is printed, logged or written goes through `redact_url`
(SQLAlchemy's `render_as_string(hide_password=True)`, plus password-like query keys), and every error text
from a driver goes through `redact_text` before it reaches a message.

With SQLAlchemy 2.0.x a plain `postgresql://` URL means psycopg2; tabgate ships psycopg (3), so a
PostgreSQL URL that names no driver is read as `postgresql+psycopg://` (`connection_url`).
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Mapping
from typing import Any
from urllib.parse import quote, quote_plus

from tasks.core.errors import ConfigError

SQL_PREFIXES = ("sqlite:", "postgresql", "postgres:", "mysql", "mariadb", "mssql", "oracle", "duckdb:")
PASSWORD_QUERY_KEYS = frozenset({"password", "passwd", "pwd", "pass"})
DEFAULT_DRIVERS = {"postgresql": "postgresql+psycopg"}  # SQLAlchemy 2.0 would pick psycopg2 for postgresql://
ENV_NAME = re.compile(r"^[A-Za-z_][A-Za-z0-9_]*$")
MASK = "***"
_SCHEME = re.compile(r"^[A-Za-z][A-Za-z0-9+.\-]*:")
_USERINFO = re.compile(r"(?P<head>[A-Za-z][A-Za-z0-9+.\-]*://[^:/@\s]*):[^@\s]*@")


def is_sql_url(source: str) -> bool:
    """Return True when source looks like a SQLAlchemy URL rather than a file path."""
    src = source.strip().lower()
    return src.startswith(SQL_PREFIXES) or "://" in src


def mask_userinfo(text: str) -> str:
    """Return text with any `scheme://user:secret@` rewritten as `scheme://user:***@` (for strings that do not parse)."""
    return _USERINFO.sub(lambda m: f"{m.group('head')}:{MASK}@", text)


def parse_source_url(source: str, key: str = "ingest.source") -> Any:
    """Return the sqlalchemy URL of source; ConfigError naming key (with the text redacted) when it does not parse."""
    from sqlalchemy.engine import make_url
    from sqlalchemy.exc import ArgumentError

    try:
        return make_url(source.strip())
    except (ArgumentError, ValueError) as err:  # neither the value nor the parser's message is repeated: both may hold a password
        raise ConfigError(
            f"{key}: {unparsed_label(source)} is not a valid SQLAlchemy URL ({type(err).__name__}); "
            "expected dialect[+driver]://user@host:port/database, e.g. "
            "postgresql://reader@db-host:5432/sales"
        ) from None


def unparsed_label(source: str) -> str:
    """Return what may be shown of a URL that does not parse: its scheme only."""
    scheme = _SCHEME.match(source.strip())
    return f"'{scheme.group(0)}...' (the rest is not shown: it may hold a password)" if scheme else "the value"


def password_in_url(url: Any) -> str | None:
    """Return where a URL carries a password ('user info' or 'query key <k>'), or None when it carries none."""
    if url.password:
        return "user info"
    keys = sorted(k for k in url.query if k.lower() in PASSWORD_QUERY_KEYS)
    return f"query key {keys[0]!r}" if keys else None


def check_source_url(source: str, password_env: str | None, key: str = "ingest.source") -> None:
    """Raise ValueError (for the config validator) when the URL does not parse or carries a password."""
    try:
        url = parse_source_url(source, key)
    except ConfigError as err:
        raise ValueError(str(err)) from None
    where = password_in_url(url)
    if where:
        env = password_env or "TABGATE_DB_PASSWORD"
        raise ValueError(
            f"{key} carries a password ({where}) in {redact_url(source)}; a password in params.yaml "
            f"ends up in dvc.lock, git history and reports. Remove it from the URL, set "
            f"ingest.password_env: {env} and export {env}=... in the environment that runs tabgate"
        )


def with_default_driver(url: Any) -> Any:
    """Return url with the driver tabgate installs when the URL names none (postgresql -> postgresql+psycopg)."""
    driver = DEFAULT_DRIVERS.get(url.drivername)
    return url.set(drivername=driver) if driver else url


def connection_url(source: str, password_env: str | None, environ: Mapping[str, str]) -> tuple[Any, list[str]]:
    """Return (the URL to connect with, the secrets to redact from error texts).

    The password is taken from environ[password_env] (ConfigError naming ingest.password_env when unset).
    """
    url = with_default_driver(parse_source_url(source))
    if not password_env:
        return url, []
    password = environ.get(password_env)
    if password is None:
        raise ConfigError(
            f"ingest.password_env: the environment variable {password_env} is not set; export it with "
            f"the password for {redact_url(source)} (it is never read from params.yaml)"
        )
    return url.set(password=password), [password] if password else []


def redact_url(source: str | Any) -> str:
    """Return a URL safe to print: password hidden (render_as_string(hide_password=True)), password query values masked.

    A file path comes back unchanged; of a string that does not parse as a URL only the scheme is shown.
    """
    if not isinstance(source, str):
        url = source
    elif not is_sql_url(source):
        return source
    else:
        try:
            url = parse_source_url(source)
        except ConfigError:
            return f"<invalid URL {unparsed_label(source)}>"
    hidden = {k: MASK for k in url.query if k.lower() in PASSWORD_QUERY_KEYS}
    if hidden:
        url = url.update_query_dict(hidden)
    return str(url.render_as_string(hide_password=True))


def secret_forms(secret: str) -> set[str]:
    """Return the ways a secret can appear in a text: as is, URL-quoted (fully, path-style, form-style, SQLAlchemy's)."""
    from sqlalchemy.engine import URL

    rendered = URL.create("x", username="u", password=secret, host="h").render_as_string(hide_password=False)
    sqla = rendered[len("x://u:") : rendered.rindex("@h")]
    return {f for f in (secret, quote(secret, safe=""), quote(secret), quote_plus(secret), sqla) if f}


def redact_text(text: str, secrets: Iterable[str]) -> str:
    """Return text with every secret (as is, and in every URL-quoted form a driver may show) replaced by ***."""
    out = mask_userinfo(text)
    for secret in secrets:
        if secret:
            for form in sorted(secret_forms(secret), key=len, reverse=True):
                out = out.replace(form, MASK)
    return out


def check_env_name(name: str | None, key: str = "ingest.password_env") -> None:
    """Raise ValueError when name is not a valid environment variable name."""
    if name is not None and not ENV_NAME.match(name):
        raise ValueError(
            f"{key} is not an environment variable name (letters, digits and _, not starting with a "
            "digit); it names the variable that holds the password, it is not the password (the value "
            "is not repeated here in case it is one)"
        )
