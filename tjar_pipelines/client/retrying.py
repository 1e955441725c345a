"""Sends one request to a store: rate limit, bounded retries with backoff, typed errors."""

from __future__ import annotations

import datetime as dt
import email.utils
import json
import logging
import random
import time
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import Any

import httpx
import orjson

from tjar_pipelines.client.errors import (
    TjarAuthError,
    TjarClientRequestError,
    TjarError,
    TjarNotFoundError,
    TjarRateLimitError,
    TjarResponseError,
    TjarServerError,
    TjarTransportError,
    TjarValidationError,
)
from tjar_pipelines.client.ratelimit import Sleep, TokenBucket
from tjar_pipelines.client.settings import ClientSettings, StoreConnection

log = logging.getLogger("tjar_pipelines.client")

Params = Mapping[str, str | int]

# Safe to resend after any failure; a POST/PUT/PATCH is only resent when it cannot have arrived.
_IDEMPOTENT = frozenset({"GET", "HEAD", "DELETE", "OPTIONS"})


@dataclass(slots=True)
class RequestStats:
    """What a client has sent so far: requests, retries and 429 answers."""

    requests: int = 0
    retries: int = 0
    throttled: int = 0


class Requester:
    """Sends requests to one store and turns every failure into a :class:`TjarError`."""

    def __init__(
        self,
        connection: StoreConnection,
        settings: ClientSettings,
        http: httpx.Client,
        bucket: TokenBucket,
        *,
        sleep: Sleep = time.sleep,
        rng: random.Random | None = None,
    ) -> None:
        self._conn = connection
        self._settings = settings
        self._http = http
        self._bucket = bucket
        self._sleep = sleep
        self._rng = rng or random.Random()
        self.stats = RequestStats()

    def backoff(self, attempt: int) -> float:
        """Full-jitter exponential backoff after failed attempt number ``attempt`` (1-based)."""
        ceiling = min(self._settings.backoff_cap, self._settings.backoff_base * 2 ** (attempt - 1))
        return self._rng.uniform(0.0, ceiling)

    def request(
        self,
        method: str,
        path: str,
        *,
        params: Params | None = None,
        json_body: Mapping[str, Any] | None = None,
        decode: Callable[[bytes], dict[str, Any]] | None = None,
    ) -> dict[str, Any]:
        """Sends ``method path`` until it succeeds or the attempts run out.

        Args:
            method: The HTTP method.
            path: The path under the store's API base.
            params: The query parameters.
            json_body: The JSON body to send, if any.
            decode: Turns a 2xx answer's body into the JSON object returned, raising
                ``ValueError`` on a broken body (which is retried); :func:`decode_object` by
                default.

        Returns:
            The decoded JSON object of a 2xx answer (an empty dict for an empty 2xx body).

        Raises:
            TjarError: A subclass saying what failed and what to do.
        """
        shown = _shown_path(path, params)
        settings = self._settings
        failure: TjarError | None = None
        for attempt in range(1, settings.max_attempts + 1):
            paused = False
            self._bucket.acquire()
            sent_at = self._bucket.now()
            self.stats.requests += 1
            if attempt > 1:
                self.stats.retries += 1
            delay: float
            try:
                response, content = self._send(method, path, params, json_body)
            except httpx.RequestError as exc:  # transport errors, and bodies that fail to decode
                self._bucket.unanswered()
                detail = self._masked(str(exc))[:200]
                untrusted = "CERTIFICATE_VERIFY_FAILED" in detail
                failure = self._error(
                    TjarTransportError,
                    f"{type(exc).__name__} talking to the store"
                    + (f" ({detail})" if detail else ""),
                    "The store's certificate is not trusted: check that its domain or base_url "
                    "is the store's own, and the machine's CA certificates."
                    if untrusted
                    else "Check that the store's domain or base_url is right and reachable; "
                    "the request was retried with backoff.",
                    method,
                    shown,
                    attempt=attempt,
                )
                never_sent = isinstance(exc, httpx.ConnectError | httpx.ConnectTimeout)
                if untrusted or (method not in _IDEMPOTENT and not never_sent):
                    raise failure from exc  # a certificate does not get trusted by retrying
                delay = self.backoff(attempt)
            except BaseException:
                # Any other failure (a prefetch whose client was closed under it, an interrupt)
                # got no answer either: the store's shared bucket must stop counting it.
                self._bucket.unanswered()
                raise
            else:
                status = response.status_code
                self._bucket.observe(response.headers, sent_at, status)
                if 200 <= status < 300:
                    try:
                        return (decode or decode_object)(content) if content.strip() else {}
                    except ValueError as exc:
                        failure = self._error(
                            TjarResponseError,
                            f"{status} with a body that is not a JSON object ({exc})",
                            "The store sent a broken body several times; retry later, and "
                            "report it to Tjar support if it persists.",
                            method,
                            shown,
                            status=status,
                            attempt=attempt,
                        )
                        if method not in _IDEMPOTENT:
                            raise failure from exc
                        delay = self.backoff(attempt)
                elif status == 429:
                    self.stats.throttled += 1
                    retry_after = _retry_after(response.headers.get("retry-after"))
                    delay = retry_after if retry_after is not None else self.backoff(attempt)
                    failure = self._error(
                        TjarRateLimitError,
                        f"429 Too Many Requests (Retry-After: {retry_after})",
                        "The store's rate limit was hit on every attempt; lower "
                        "requests_per_second under 'client:' in the store's entry of "
                        "stores.yaml, or run fewer stores at once.",
                        method,
                        shown,
                        status=status,
                        attempt=attempt,
                    )
                    if delay > settings.max_retry_after:
                        raise self._error(
                            TjarRateLimitError,
                            f"429 with Retry-After {delay:.0f}s, longer than max_retry_after "
                            f"({settings.max_retry_after:.0f}s)",
                            "The store asked for a long pause; run again later, or raise "
                            "max_retry_after under 'client:' in the store's entry of "
                            "stores.yaml.",
                            method,
                            shown,
                            status=status,
                            attempt=attempt,
                        )
                    # The bucket holds every caller of this store that long, this one included.
                    self._bucket.pause(delay)
                    paused = True
                elif status >= 500:
                    failure = self._error(
                        TjarServerError,
                        f"{status} server error{_message_suffix(response)}",
                        "The store kept failing; retry later, and report it to Tjar support "
                        "if it persists.",
                        method,
                        shown,
                        status=status,
                        attempt=attempt,
                    )
                    if method not in _IDEMPOTENT:
                        raise failure
                    # A 503 may say when the store is back (maintenance, overload).
                    retry_after = _retry_after(response.headers.get("retry-after"))
                    if status == 503 and retry_after is not None:
                        if retry_after > settings.max_retry_after:
                            raise self._error(
                                TjarServerError,
                                f"503 with Retry-After {retry_after:.0f}s, longer than "
                                f"max_retry_after ({settings.max_retry_after:.0f}s)",
                                "The store is unavailable for a while; run again later.",
                                method,
                                shown,
                                status=status,
                                attempt=attempt,
                            )
                        delay = retry_after
                        # Every caller of the store waits as long; not a sign of its rate limit.
                        self._bucket.pause(delay, rate_limited=False)
                        paused = True
                    else:
                        delay = self.backoff(attempt)
                else:
                    raise self._client_error(response, method, shown, attempt)
            if attempt == settings.max_attempts:
                break
            log.warning(
                "store %s: %s %s failed (%s), attempt %d/%d, retrying in %.2fs",
                self._conn.slug,
                method,
                shown,
                failure.problem if failure else "?",
                attempt,
                settings.max_attempts,
                delay,
            )
            if delay > 0 and not paused:
                self._sleep(delay)
        assert failure is not None
        raise type(failure)(
            f"{failure.problem} (gave up after {settings.max_attempts} attempts)",
            store=failure.store,
            method=method,
            path=shown,
            advice=failure.advice,
            status=failure.status,
            attempts=settings.max_attempts,
        )

    def _send(
        self, method: str, path: str, params: Params | None, json_body: Mapping[str, Any] | None
    ) -> tuple[httpx.Response, bytes]:
        """The store's answer, and the body of a 2xx answer, read apart from the answer.

        httpx's response sits in a reference cycle (through httpcore's stream), so only the
        garbage collector frees it and what it holds. A 2xx body (a list page, 0.2 MB) is
        therefore not left on it: read into the response, pages waited for a collection, which
        comes rarely while pages are read (see :mod:`tjar_pipelines.relaxed_gc`); a 100k-order
        sync peaked 20-50 MB higher (three runs each). Other bodies are read into the response
        for the error messages.
        """
        with self._http.stream(method, path, params=params, json=json_body) as response:
            if 200 <= response.status_code < 300:
                return response, b"".join(response.iter_bytes())
            return response, response.read()

    def _masked(self, text: str) -> str:
        """``text`` with the store's API key masked, should it hold it."""
        return masked(text, self._conn.api_key.reveal())

    def _error(
        self,
        kind: type[TjarError],
        problem: str,
        advice: str,
        method: str,
        shown: str,
        *,
        status: int | None = None,
        attempt: int = 1,
    ) -> TjarError:
        return kind(
            problem,
            store=self._conn.slug,
            method=method,
            path=shown,
            advice=advice,
            status=status,
            attempts=attempt,
        )

    def _client_error(
        self, response: httpx.Response, method: str, shown: str, attempt: int
    ) -> TjarError:
        status = response.status_code
        suffix = _message_suffix(response)
        if status in (401, 403):
            env = self._conn.api_key_env
            where = f"the environment variable {env}" if env else "the store's api key setting"
            what = "rejected" if status == 401 else "lacks a permission for this call"
            return self._error(
                TjarAuthError,
                f"{status}: the API key for store {self._conn.slug} was {what}{suffix}",
                "Generate a new key in the store's Tjar dashboard under General Settings → "
                f"Developers (by a user with the needed permissions) and set it in {where}.",
                method,
                shown,
                status=status,
                attempt=attempt,
            )
        if 300 <= status < 400:  # the client does not follow redirects: the key would go along
            location = _redact(response.headers.get("location", "?"), response)[:200]
            return self._error(
                TjarClientRequestError,
                f"{status} redirect to {location}",
                "The store's API moved or its address is written differently; set the store's "
                "base_url in stores.yaml to where it points, if that is the store's own domain.",
                method,
                shown,
                status=status,
                attempt=attempt,
            )
        if status == 404:
            return self._error(
                TjarNotFoundError,
                f"404 not found{suffix}",
                "Check the identifier, and that the store's base_url ends in /api/core/v1.",
                method,
                shown,
                status=status,
                attempt=attempt,
            )
        if status == 422:
            body = _maybe_json(response)
            errors = body.get("errors") if isinstance(body, dict) else None
            fields: dict[str, list[str]] = {}
            if isinstance(errors, dict):
                for field, msgs in errors.items():
                    items = msgs if isinstance(msgs, list) else [msgs]
                    fields[str(field)] = [_redact(str(m), response) for m in items]
            detail = "; ".join(f"{k}: {' '.join(v)}" for k, v in fields.items())
            return TjarValidationError(
                f"422 validation error{suffix}" + (f" ({detail})" if detail else ""),
                errors=fields,
                store=self._conn.slug,
                method=method,
                path=shown,
                advice="Fix the fields named above; the store refused the request as sent.",
                status=status,
                attempts=attempt,
            )
        return self._error(
            TjarClientRequestError,
            f"{status} client error{suffix}",
            "The store refused the request; check the store's settings and the call's arguments.",
            method,
            shown,
            status=status,
            attempt=attempt,
        )


def loads(content: bytes | str) -> Any:
    """JSON from bytes: orjson (several times faster), the standard library for what it refuses."""
    try:
        return orjson.loads(content)
    except orjson.JSONDecodeError:
        try:
            return json.loads(content)  # e.g. integers beyond 64 bits; ValueError on junk
        except RecursionError as exc:  # nested deeper than Python's stack: junk all the same
            raise ValueError("JSON nested too deep to read") from exc


def decode_object(content: bytes) -> dict[str, Any]:
    """The JSON object of a body (``ValueError`` if it is not JSON, or not an object)."""
    body = loads(content)
    if not isinstance(body, dict):
        raise ValueError(f"top level is {type(body).__name__}")
    return body


def _maybe_json(response: httpx.Response) -> object:
    try:
        return loads(response.content)
    except ValueError:
        return None


def _message_suffix(response: httpx.Response) -> str:
    return store_says(_maybe_json(response), _sent_key(response))


def store_says(body: object, key: str) -> str:
    """The ``message`` of a JSON body as `` (store says: ...)``, ``key`` masked, then cut.

    Nothing when the body has no message.
    """
    message = body.get("message") if isinstance(body, dict) else None
    if isinstance(message, str) and message.strip():
        return f" (store says: {masked(message.strip(), key)[:200]})"
    return ""


def _redact(text: str, response: httpx.Response) -> str:
    """Masks the request's credentials in text the store sent back (some stores echo them)."""
    return masked(text, _sent_key(response))


def _sent_key(response: httpx.Response) -> str:
    """The key the request of ``response`` was sent with."""
    return response.request.headers.get("authorization", "").removeprefix("Bearer ").strip()


def masked(text: str, key: str) -> str:
    """``text`` with ``key`` (and its ``Bearer`` header form) masked as ``***``.

    A key shorter than four characters is not masked: replacing so short a text would
    garble the message around it.
    """
    if len(key) < 4:
        return text
    return text.replace(f"Bearer {key}", "***").replace(key, "***")


def _retry_after(value: str | None) -> float | None:
    """``Retry-After`` in seconds: delta-seconds or an HTTP date; ``None`` when absent or junk."""
    if value is None:
        return None
    value = value.strip()
    try:
        return max(0.0, float(value))
    except ValueError:
        pass
    try:
        when = email.utils.parsedate_to_datetime(value)
    except (TypeError, ValueError):
        return None
    if when.tzinfo is None:  # "-0000": UTC, as every HTTP date (not this machine's zone)
        when = when.replace(tzinfo=dt.UTC)
    return max(0.0, when.timestamp() - time.time())


def _shown_path(path: str, params: Params | None) -> str:
    if not params:
        return path
    return f"{path}?{httpx.QueryParams(dict(params))}"
