"""The store registry: ``stores.yaml``, one entry per Tjar store, parsed into frozen dataclasses.

Secrets never live in the file: ``api_key_env`` and ``webhook_secret_env`` name environment
variables, read only when a run needs them (:meth:`Store.api_key`).
"""

from __future__ import annotations

import dataclasses
import datetime as dt
import os
import re
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import httpx
import yaml

from tjar_pipelines.client import Secret, StoreConnection, default_base_url
from tjar_pipelines.client.settings import ClientSettings, check_timezone
from tjar_pipelines.webhooks.signature import SignatureScheme

SLUG = re.compile(r"^[a-z0-9][a-z0-9_-]{0,62}$")
ENV_NAME = re.compile(r"^[A-Z_][A-Z0-9_]{0,127}$")
DEFAULT_START_DATE = dt.date(2025, 1, 1)
KEYS = frozenset(
    {
        "slug",
        "domain",
        "api_key_env",
        "webhook_secret_env",
        "base_url",
        "timezone",
        "language",
        "start_date",
        "webhook_signature_header",
        "webhook_signature_prefix",
        "webhook_signature_encoding",
        "allow_http",
        "client",
    }
)
REQUIRED = ("slug", "domain", "api_key_env")


def env_name(slug: str, what: str) -> str:
    """The conventional variable name for a store's secret, e.g. ``TJAR_ZEN_SHOP_API_KEY``."""
    return f"TJAR_{slug.upper().replace('-', '_')}_{what}"


class RegistryError(ValueError):
    """``stores.yaml`` is missing or wrong; the message names the entry and key to fix."""


class MissingSecretError(RegistryError):
    """The environment variable a store's entry names is not set."""


@dataclass(frozen=True, slots=True)
class Store:
    """One Tjar store of the registry.

    Attributes:
        slug: Stable short name; the store's partition key.
        domain: The store's domain, e.g. ``acme.tjar.sa``.
        api_key_env: Name of the environment variable holding the API key.
        webhook_secret_env: Name of the environment variable holding the webhook secret.
        base_url: API base; ``https://{domain}/api/core/v1`` unless overridden.
        timezone: IANA zone of the store's timestamps and days.
        language: ``en`` or ``ar``, sent as ``Accept-Language``.
        start_date: First day of order history to sync (default 2025-01-01).
        signature: How the store signs its webhooks (header, prefix, hex or base64).
        client: The store's own values of :class:`ClientSettings` fields (its ``client:``
            mapping), over the defaults and the ``tjar`` resource's.
    """

    slug: str
    domain: str
    api_key_env: str
    webhook_secret_env: str | None
    base_url: str
    timezone: str
    language: str
    start_date: dt.date
    signature: SignatureScheme = field(default_factory=SignatureScheme)
    client: tuple[tuple[str, Any], ...] = ()

    def client_settings(self, base: ClientSettings | None = None) -> ClientSettings:
        """``base`` (the client's defaults if None) with this store's ``client:`` values."""
        return dataclasses.replace(base or ClientSettings(), **dict(self.client))

    def api_key(self) -> Secret:
        """The API key, read from the environment now.

        Raises:
            MissingSecretError: The variable is unset or empty.
        """
        return _secret(self.api_key_env, self.slug, "API key", header=True)

    def webhook_secret(self) -> Secret:
        """The webhook signing secret, read from the environment now.

        Raises:
            MissingSecretError: No variable is configured, or it is unset or empty.
        """
        if self.webhook_secret_env is None:
            raise MissingSecretError(
                f"store {self.slug}: no webhook_secret_env in the store registry; add one "
                "naming the environment variable that holds the webhook secret"
            )
        return _secret(self.webhook_secret_env, self.slug, "webhook secret")

    def connection(self) -> StoreConnection:
        """How the client reaches this store (reads the API key from the environment)."""
        return StoreConnection(
            slug=self.slug,
            base_url=self.base_url,
            api_key=self.api_key(),
            api_key_env=self.api_key_env,
            language="ar" if self.language == "ar" else "en",
            timezone=self.timezone,
        )


def _secret(variable: str, slug: str, what: str, *, header: bool = False) -> Secret:
    """The secret in ``variable``; ``header`` when it goes into an HTTP header as it is."""
    value = os.environ.get(variable, "").strip()
    if not value:
        raise MissingSecretError(
            f"store {slug}: the environment variable {variable} (its {what}) is not set; "
            f"export {variable}=... before running (the store registry names it)"
        )
    if header and not (value.isascii() and value.isprintable()):
        raise MissingSecretError(
            f"store {slug}: the environment variable {variable} (its {what}) holds characters "
            "an HTTP header cannot carry (not ASCII, or control characters: often a copy and "
            f"paste); copy the {what} again into {variable}"
        )
    return Secret(value)


@dataclass(frozen=True, slots=True)
class Registry:
    """All stores, in file order."""

    stores: tuple[Store, ...]
    path: Path | None = None

    @property
    def slugs(self) -> list[str]:
        return [s.slug for s in self.stores]

    def get(self, slug: str) -> Store:
        for store in self.stores:
            if store.slug == slug:
                return store
        where = f" in {self.path}" if self.path else ""
        raise RegistryError(
            f"store {slug!r} is not in the store registry{where}; known stores: "
            f"{', '.join(self.slugs) or 'none'}"
        )


def parse_registry(document: object, *, source: str = "stores.yaml") -> Registry:
    """Validates a parsed ``stores.yaml`` document.

    Raises:
        RegistryError: The document is malformed; the message names the entry and the key.
    """
    if not isinstance(document, Mapping) or "stores" not in document:
        raise RegistryError(f"{source}: expected a top-level 'stores:' list")
    extra = set(document) - {"stores"}
    if extra:
        raise RegistryError(f"{source}: unknown top-level keys {sorted(extra)}; only 'stores'")
    entries = document["stores"]
    if not isinstance(entries, Sequence) or isinstance(entries, str):
        raise RegistryError(f"{source}: 'stores' must be a list of store entries")
    stores: list[Store] = []
    seen: dict[str, str] = {}  # slugs with '-' read as '_', as in variable and check names
    for index, entry in enumerate(entries):
        store = _parse_entry(entry, f"{source}: stores[{index}]")
        key = store.slug.replace("-", "_")
        if key in seen:
            other = seen[key]
            raise RegistryError(
                f"{source}: stores[{index}]: duplicate slug {store.slug!r}"
                if other == store.slug
                else f"{source}: stores[{index}]: slug {store.slug!r} differs from {other!r} "
                "only by '-' and '_', which share variable and check names; rename one"
            )
        seen[key] = store.slug
        stores.append(store)
    return Registry(tuple(stores))


def _parse_entry(entry: object, where: str) -> Store:
    if not isinstance(entry, Mapping):
        raise RegistryError(f"{where}: each store entry must be a mapping of keys")
    slug = entry.get("slug")
    if isinstance(slug, str):
        where = f"{where} (slug {slug})"
    unknown = sorted(set(map(str, entry)) - KEYS)
    if unknown:
        raise RegistryError(f"{where}: unknown key(s) {unknown}; allowed: {sorted(KEYS)}")
    for key in REQUIRED:
        if not isinstance(entry.get(key), str) or not entry[key].strip():
            raise RegistryError(f"{where}: '{key}' is required and must be a string")
    assert isinstance(slug, str)
    if not SLUG.match(slug):
        raise RegistryError(
            f"{where}: 'slug' must match {SLUG.pattern} (lowercase letters, digits, _ and -)"
        )
    for key in ("api_key_env", "webhook_secret_env"):
        value = entry.get(key)
        if value is not None and (not isinstance(value, str) or not ENV_NAME.match(value)):
            raise RegistryError(
                f"{where}: '{key}' must be the NAME of an environment variable in capitals "
                "(like TJAR_ACME_API_KEY), not the secret itself; put the secret in that variable"
            )
    domain = str(entry["domain"]).strip()
    if any(char in domain for char in "/\\?#@ ") or not _host_of(f"https://{domain}"):
        raise RegistryError(f"{where}: 'domain' must be a bare host like acme.tjar.sa")
    base_url = entry.get("base_url") or default_base_url(domain)
    allow_http = entry.get("allow_http", False)
    if not isinstance(allow_http, bool):
        raise RegistryError(f"{where}: 'allow_http' must be true or false")
    _check_base_url(base_url, allow_http, where)
    timezone = entry.get("timezone", "Asia/Riyadh")
    try:
        check_timezone(str(timezone), slug)
    except ValueError as exc:
        raise RegistryError(f"{where}: 'timezone' {timezone!r} is not an IANA zone") from exc
    language = entry.get("language", "en")
    if language not in ("en", "ar"):
        raise RegistryError(f"{where}: 'language' must be 'en' or 'ar'")
    start = entry.get("start_date")
    start_date = DEFAULT_START_DATE if start is None else _date(start, where)
    defaults = SignatureScheme()
    header = entry.get("webhook_signature_header", defaults.header)
    if not isinstance(header, str) or not header.strip():
        raise RegistryError(
            f"{where}: 'webhook_signature_header' must name the header Tjar signs with"
        )
    prefix = entry.get("webhook_signature_prefix", defaults.prefix)
    if prefix is None:  # written empty in YAML: no prefix, not the text "None"
        prefix = ""
    if not isinstance(prefix, str):
        raise RegistryError(f"{where}: 'webhook_signature_prefix' must be text (or empty)")
    try:
        signature = SignatureScheme(
            header=header.strip(),
            prefix=prefix,
            encoding=entry.get("webhook_signature_encoding", defaults.encoding),
        )
    except ValueError as exc:
        raise RegistryError(f"{where}: 'webhook_signature_encoding' must be hex or base64") from exc
    return Store(
        slug=slug,
        domain=domain,
        api_key_env=str(entry["api_key_env"]),
        webhook_secret_env=entry.get("webhook_secret_env"),
        base_url=base_url.rstrip("/"),
        timezone=str(timezone),
        language=str(language),
        start_date=start_date,
        signature=signature,
        client=_client(entry.get("client", {}), where),
    )


LOOPBACK = re.compile(r"^(localhost|127(\.\d{1,3}){3}|::1)$")


def _host_of(url: str) -> str:
    """The host of ``url``, or "" if it has none or is not a URL."""
    try:
        return httpx.URL(url).host
    except (httpx.InvalidURL, ValueError, TypeError):
        return ""


def _check_base_url(base_url: object, allow_http: bool, where: str) -> None:
    """Refuses a base URL the store's key must not go to.

    That is one without a host, or with credentials, a query or a fragment in it, or plain
    http to another machine (the key would cross the network unencrypted).
    """
    problem = "'base_url' must be an http(s) URL like https://acme.tjar.sa/api/core/v1"
    if not isinstance(base_url, str) or not base_url.startswith(("https://", "http://")):
        raise RegistryError(f"{where}: {problem}")
    try:
        url = httpx.URL(base_url)
    except (httpx.InvalidURL, ValueError) as exc:
        raise RegistryError(f"{where}: {problem} ({exc})") from None
    if not url.host or url.userinfo or any(char in base_url for char in "?#\\"):
        raise RegistryError(f"{where}: {problem}, without credentials, a query or a fragment")
    if url.scheme == "http" and not allow_http and not LOOPBACK.match(url.host):
        raise RegistryError(
            f"{where}: 'base_url' is plain http to {url.host}, which would send the store's "
            "API key unencrypted; use https://, or add 'allow_http: true' to the entry for a "
            "simulator on another machine (never for a real store)"
        )


def _client(value: object, where: str) -> tuple[tuple[str, Any], ...]:
    """A store's ``client:`` mapping, checked against :class:`ClientSettings`."""
    fields = {f.name: type(f.default) for f in dataclasses.fields(ClientSettings)}
    del fields["extra_headers"]
    if not isinstance(value, Mapping):
        raise RegistryError(
            f"{where}: 'client' must be a mapping of client settings, like "
            "{on_total_mismatch: warn}"
        )
    values: dict[str, Any] = {}
    for key, item in value.items():
        kind = fields.get(str(key))
        if kind is None:
            raise RegistryError(
                f"{where}: client: unknown setting {key!r}; allowed: {sorted(fields)}"
            )
        number = isinstance(item, int | float) and not isinstance(item, bool)
        if not (
            isinstance(item, bool)
            if kind is bool
            else number
            if kind is float
            else number and float(item).is_integer()
            if kind is int
            else isinstance(item, str)
        ):
            wanted = {bool: "true or false", int: "a whole number", float: "a number"}
            raise RegistryError(
                f"{where}: client: {key} must be {wanted.get(kind, 'a string')}, not {item!r}"
            )
        values[str(key)] = kind(item)
    try:
        ClientSettings(**values)
    except ValueError as exc:
        raise RegistryError(f"{where}: client: {exc}") from exc
    return tuple(sorted(values.items()))


def _date(value: Any, where: str) -> dt.date:
    if isinstance(value, dt.date) and not isinstance(value, dt.datetime):
        return value
    if isinstance(value, str):
        try:
            return dt.date.fromisoformat(value)
        except ValueError:
            pass
    raise RegistryError(f"{where}: 'start_date' must be a date, YYYY-MM-DD")


def load_registry(path: str | os.PathLike[str]) -> Registry:
    """Reads and validates a store registry file.

    Raises:
        RegistryError: The file is missing, not YAML, or invalid.
    """
    file = Path(path)
    try:
        text = file.read_text(encoding="utf-8")
    except FileNotFoundError as exc:
        raise RegistryError(
            f"store registry {file} not found; copy stores.example.yaml to {file} "
            "or point TJAR_STORES_FILE at yours"
        ) from exc
    try:
        document = yaml.safe_load(text)
    except yaml.YAMLError as exc:
        raise RegistryError(f"{file}: not valid YAML ({exc})") from exc
    registry = parse_registry(document, source=str(file))
    return Registry(registry.stores, file)
