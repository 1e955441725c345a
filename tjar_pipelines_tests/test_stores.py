"""The store registry: valid entries, and a clear error naming the entry and key otherwise."""

from __future__ import annotations

import datetime as dt

import pytest

from tjar_pipelines.stores import (
    DEFAULT_START_DATE,
    MissingSecretError,
    Registry,
    RegistryError,
    load_registry,
    parse_registry,
)

GOOD = {
    "slug": "acme",
    "domain": "acme.tjar.sa",
    "api_key_env": "TJAR_ACME_API_KEY",
    "start_date": "2026-01-01",
}


def parse(*entries: object) -> Registry:
    return parse_registry({"stores": list(entries)})


def test_a_minimal_entry_gets_the_defaults():
    registry = parse({k: v for k, v in GOOD.items() if k != "start_date"})
    [store] = registry.stores
    assert store.base_url == "https://acme.tjar.sa/api/core/v1"
    assert (store.timezone, store.language, store.start_date) == (
        "Asia/Riyadh",
        "en",
        DEFAULT_START_DATE,
    )
    assert store.webhook_secret_env is None


def test_every_key():
    entry = {
        **GOOD,
        "webhook_secret_env": "TJAR_ACME_WEBHOOK_SECRET",
        "base_url": "http://127.0.0.1:8000/s/acme/api/core/v1/",
        "timezone": "Africa/Cairo",
        "language": "ar",
    }
    [store] = parse(entry).stores
    assert store.base_url == "http://127.0.0.1:8000/s/acme/api/core/v1"
    assert store.start_date == dt.date(2026, 1, 1) and store.language == "ar"


def test_a_store_sets_its_own_client_settings_over_the_resource():
    """Where Tjar's docs are silent each store can differ: its `client:` values win over the
    defaults and the resource's, which fill in the rest."""
    from tjar_pipelines.client import ClientSettings

    client = {"on_total_mismatch": "warn", "page_param": "p", "per_page": 50.0, "prefetch": False}
    [store] = parse({**GOOD, "client": {**client, "max_retry_after": 600}}).stores
    settings = store.client_settings(ClientSettings(requests_per_second=2.0, per_page=30))
    assert settings.on_total_mismatch == "warn" and settings.page_param == "p"
    assert settings.per_page == 50 and isinstance(settings.per_page, int)
    assert settings.max_retry_after == 600.0 and settings.prefetch is False
    assert settings.requests_per_second == 2.0  # the resource's, as the store sets none
    assert parse(GOOD).stores[0].client_settings() == ClientSettings()


def test_the_tjar_resource_uses_the_stores_client_settings(tmp_path, monkeypatch):
    import yaml

    from tjar_pipelines.resources import TjarResource

    path = tmp_path / "stores.yaml"
    path.write_text(yaml.safe_dump({"stores": [{**GOOD, "client": {"page_param": "p"}}]}))
    monkeypatch.setenv("TJAR_ACME_API_KEY", "k-123456")
    with TjarResource(stores_file=str(path), requests_per_second=3.0).get_client("acme") as c:
        assert c.settings.page_param == "p" and c.settings.requests_per_second == 3.0


@pytest.mark.parametrize(
    ("change", "message"),
    [
        ({"colour": "red"}, r"stores\[0\] \(slug acme\): unknown key\(s\) \['colour'\]"),
        ({"slug": "Acme Store"}, r"'slug' must match"),
        ({"slug": "../etc"}, r"'slug' must match"),
        ({"slug": "a/b"}, r"'slug' must match"),
        ({"slug": None}, r"'slug' is required"),
        ({"domain": ""}, r"'domain' is required"),
        ({"domain": "https://acme.tjar.sa/"}, r"'domain' must be a bare host"),
        ({"api_key_env": "tjar_live_9f8e7d6c5b4a"}, r"'api_key_env' must be the NAME"),
        ({"webhook_secret_env": "whsec-123"}, r"'webhook_secret_env' must be the NAME"),
        ({"timezone": "Mars/Olympus"}, r"'timezone' 'Mars/Olympus' is not an IANA zone"),
        ({"language": "fr"}, r"'language' must be 'en' or 'ar'"),
        ({"start_date": "01/02/2026"}, r"'start_date' must be a date"),
        ({"base_url": "ftp://x"}, r"'base_url' must be an http\(s\) URL"),
        ({"client": "warn"}, r"'client' must be a mapping of client settings"),
        ({"client": {"colour": 1}}, r"client: unknown setting 'colour'; allowed: \["),
        ({"client": {"per_page": "50"}}, r"client: per_page must be a whole number, not '50'"),
        ({"client": {"per_page": 2.5}}, r"client: per_page must be a whole number, not 2.5"),
        ({"client": {"prefetch": 1}}, r"client: prefetch must be true or false, not 1"),
        ({"client": {"on_total_mismatch": "ignore"}}, r"client: on_total_mismatch must be"),
        ({"client": {"per_page": 0}}, r"client: per_page must be at least 1"),
        ({"client": {"rate_limit_window": 0}}, r"client: rate_limit_window must be more than 0"),
        ({"client": {"read_timeout": -1}}, r"client: read_timeout must be more than 0"),
        ({"client": {"max_pages": 0}}, r"client: max_pages must be at least 1"),
        ({"client": {"max_connections": 0}}, r"client: max_connections must be at least 1"),
        ({"client": {"backoff_cap": -1}}, r"client: backoff_cap must not be negative"),
        ({"client": {"page_param": " "}}, r"client: page_param must name a query parameter"),
    ],
)
def test_bad_entries_name_the_entry_and_key(change, message):
    with pytest.raises(RegistryError, match=message):
        parse({**GOOD, **change})


def test_a_literal_key_is_refused_without_being_repeated():
    with pytest.raises(RegistryError) as err:
        parse({**GOOD, "api_key_env": "tjar_live_9f8e7d6c5b4a"})
    assert "tjar_live_9f8e7d6c5b4a" not in str(err.value)


def test_duplicate_slugs_and_bad_documents():
    with pytest.raises(RegistryError, match=r"stores\[1\]: duplicate slug 'acme'"):
        parse(GOOD, GOOD)
    # TJAR_ZEN_SHOP_API_KEY and the check fresh_zen_shop would belong to both
    with pytest.raises(
        RegistryError, match=r"stores\[1\]: slug 'zen_shop' differs from 'zen-shop'"
    ):
        parse({**GOOD, "slug": "zen-shop"}, {**GOOD, "slug": "zen_shop"})
    for document in (None, [], {"store": []}, {"stores": "acme"}, {"stores": [], "extra": 1}):
        with pytest.raises(RegistryError):
            parse_registry(document)
    with pytest.raises(RegistryError, match=r"stores\[0\]: each store entry must be a mapping"):
        parse("acme")


def test_files(tmp_path):
    with pytest.raises(RegistryError, match=r"not found; copy stores\.example\.yaml"):
        load_registry(tmp_path / "nope.yaml")
    bad = tmp_path / "bad.yaml"
    bad.write_text("stores: [\n")
    with pytest.raises(RegistryError, match="not valid YAML"):
        load_registry(bad)


def test_the_committed_example_is_valid():
    from pathlib import Path

    registry = load_registry(Path(__file__).parents[1] / "stores.example.yaml")
    assert registry.slugs


def test_secrets_are_read_when_needed_and_missing_ones_are_named(monkeypatch):
    [store] = parse(GOOD).stores
    monkeypatch.delenv("TJAR_ACME_API_KEY", raising=False)
    with pytest.raises(
        MissingSecretError, match="store acme: the environment variable TJAR_ACME_API_KEY"
    ):
        store.connection()
    monkeypatch.setenv("TJAR_ACME_API_KEY", "k-123456")
    connection = store.connection()
    assert connection.api_key.reveal() == "k-123456" and "k-123456" not in repr(connection)
    with pytest.raises(MissingSecretError, match="no webhook_secret_env"):
        store.webhook_secret()
    monkeypatch.setenv("TJAR_ACME_API_KEY", "k-123\u2019456")  # a pasted curly quote
    with pytest.raises(MissingSecretError) as err:
        store.connection()
    assert "TJAR_ACME_API_KEY" in str(err.value) and "HTTP header" in str(err.value)
    assert "123" not in str(err.value)
    # A webhook secret only signs: any character goes.
    store = parse({**GOOD, "webhook_secret_env": "TJAR_ACME_WEBHOOK_SECRET"}).stores[0]
    monkeypatch.setenv("TJAR_ACME_WEBHOOK_SECRET", "s\u00e9cret")
    assert store.webhook_secret().reveal() == "s\u00e9cret"


def test_settings_from_the_environment(monkeypatch):
    from tjar_pipelines.settings import Settings

    monkeypatch.setenv("TJAR_REQUESTS_PER_SECOND", "0.5")
    monkeypatch.setenv("TJAR_LOOKBACK_DAYS", "5")
    monkeypatch.setenv("TJAR_MAX_CONCURRENT_STORES", "3")
    settings = Settings.from_env()
    assert settings.requests_per_second == 0.5 and settings.lookback_days == 5
    assert settings.max_concurrent_stores == 3
    for name, value in (
        ("TJAR_REQUESTS_PER_SECOND", "0"),
        ("TJAR_LOOKBACK_DAYS", "-1"),
        ("TJAR_RATE_LIMIT_WINDOW", "soon"),
        ("TJAR_MAX_CONCURRENT_STORES", "0"),
    ):
        monkeypatch.setenv(name, value)
        with pytest.raises(ValueError, match=name):
            Settings.from_env()
        monkeypatch.delenv(name)


@pytest.mark.parametrize(
    "base_url",
    [
        "http://acme.tjar.sa/api/core/v1",  # the key in clear text over the network
        "https://user:pw@acme.tjar.sa/api/core/v1",
        "https://acme.tjar.sa/api/core/v1?x=1",
        "https://acme.tjar.sa/api/core/v1#x",
        "https://acme.tjar.sa/api/core/v1?",  # an empty query: httpx dropped the path
        "https://",
        "https://acme.tjar.sa:44x/api/core/v1",
    ],
)
def test_a_base_url_the_key_must_not_go_to_is_refused(base_url):
    with pytest.raises(RegistryError, match=r"stores\[0\] \(slug acme\): 'base_url'"):
        parse({**GOOD, "base_url": base_url})


def test_plain_http_goes_to_this_machine_or_where_the_entry_allows_it():
    for url in ("http://127.0.0.1:8000/s/acme/api/core/v1", "http://localhost:8000/api/core/v1"):
        assert parse({**GOOD, "base_url": url}).stores[0].base_url == url
    other = "http://simulator:8000/s/acme/api/core/v1"
    with pytest.raises(RegistryError, match="allow_http: true"):
        parse({**GOOD, "base_url": other})
    assert parse({**GOOD, "base_url": other, "allow_http": True}).stores[0].base_url == other
    with pytest.raises(RegistryError, match="'allow_http' must be true or false"):
        parse({**GOOD, "allow_http": "yes"})


@pytest.mark.parametrize(
    "domain", ["acme.tjar.sa:44x", "acme.tjar.sa?x=1", "u@acme.tjar.sa", "acme\\evil", ""]
)
def test_a_domain_that_is_not_a_bare_host_is_refused(domain):
    with pytest.raises(RegistryError, match="'domain'"):
        parse({**GOOD, "domain": domain})


def test_a_signature_prefix_left_empty_in_yaml_is_no_prefix():
    """`webhook_signature_prefix:` with nothing after it is YAML's null: no prefix, not the
    text "None" (which no delivery would ever match)."""
    import yaml

    entry = yaml.safe_load("webhook_signature_prefix:\n")
    [store] = parse({**GOOD, **entry}).stores
    assert store.signature.prefix == ""
    for bad in ({"webhook_signature_header": ""}, {"webhook_signature_header": None}):
        with pytest.raises(RegistryError, match="'webhook_signature_header'"):
            parse({**GOOD, **bad})
    with pytest.raises(RegistryError, match="'webhook_signature_prefix'"):
        parse({**GOOD, "webhook_signature_prefix": 5})


@pytest.mark.parametrize("name", ["max_retry_after", "read_timeout", "backoff_cap"])
def test_an_endless_client_setting_is_refused(name):
    with pytest.raises(RegistryError, match=f"{name} must be a finite number"):
        parse({**GOOD, "client": {name: float("inf")}})
