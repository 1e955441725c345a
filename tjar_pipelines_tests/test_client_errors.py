"""Edge cases the simulator cannot produce, through httpx.MockTransport with a fake clock."""

from __future__ import annotations

import datetime as dt
import json

import httpx
import pytest

from tjar_pipelines.client import (
    ClientSettings,
    TjarAuthError,
    TjarClientRequestError,
    TjarNotFoundError,
    TjarPaginationError,
    TjarRateLimitError,
    TjarResponseError,
    TjarServerError,
    TjarTransportError,
    TjarValidationError,
)
from tjar_pipelines_tests.conftest import (
    API_KEY,
    KEY_ENV,
    FakeClock,
    mock_client,
    order_json,
    orders_page,
)

ANY_DAY = dt.date(2026, 5, 2)
ONE_ORDER = {"status": "success", "message": "ok", "data": order_json(7)}


class Scripted:
    """A transport handler that gives each answer in turn, then repeats the last one."""

    def __init__(self, *answers: httpx.Response | Exception) -> None:
        self.answers = answers
        self.calls: list[httpx.Request] = []

    def __call__(self, request: httpx.Request) -> httpx.Response:
        self.calls.append(request)
        answer = self.answers[min(len(self.calls), len(self.answers)) - 1]
        if isinstance(answer, Exception):
            raise answer
        return answer


def ok(body: object = ONE_ORDER, **headers: str) -> httpx.Response:
    return httpx.Response(200, json=body, headers=headers)


def test_request_headers_and_timeouts():
    handler = Scripted(ok())
    with mock_client(handler) as client:
        client.get_order(7)
    request = handler.calls[0]
    assert request.url == "https://acme.tjar.sa/api/core/v1/orders/7"
    assert request.headers["authorization"] == f"Bearer {API_KEY}"
    assert request.headers["accept"] == "application/json"
    assert request.headers["accept-language"] == "en"
    assert request.headers["user-agent"].startswith("tjar-pipelines/0.1.0")
    timeout = request.extensions["timeout"]
    assert timeout["connect"] == 5.0 and timeout["read"] == 30.0


def test_a_request_failing_unexpectedly_gives_its_rate_limit_slot_back():
    """A prefetch still running when its client is closed fails with httpx's RuntimeError. The
    store's bucket, shared by every later client of the store in the process, must not go on
    counting it as on its way: each such request lowered what the store let later runs send."""

    def handler(request: httpx.Request) -> httpx.Response:
        raise RuntimeError("Cannot send a request, as the client has been closed.")

    with mock_client(handler) as client:
        for _ in range(3):
            with pytest.raises(RuntimeError, match="closed"):
                client.get_product(1)
        assert client._requester._bucket._in_flight == 0


def test_429_waits_retry_after_then_succeeds():
    clock = FakeClock()
    handler = Scripted(httpx.Response(429, headers={"Retry-After": "7"}), ok())
    with mock_client(handler, clock=clock) as client:
        assert client.get_order(7).identifier == "7"
    assert len(handler.calls) == 2
    assert sum(clock.sleeps) == pytest.approx(7.0)


def test_429_with_http_date_retry_after():
    date = "Wed, 21 Oct 2015 07:28:00 GMT"  # in the past: retry at once
    handler = Scripted(httpx.Response(429, headers={"Retry-After": date}), ok())
    with mock_client(handler) as client:
        client.get_order(7)
    assert len(handler.calls) == 2


@pytest.fixture
def riyadh_local_time(monkeypatch):
    """The machine's own zone is Asia/Riyadh (UTC+3) for the test."""
    import time

    monkeypatch.setenv("TZ", "Asia/Riyadh")
    time.tzset()
    yield
    monkeypatch.undo()
    time.tzset()


def test_an_http_date_retry_after_in_utc_is_read_as_utc_whatever_the_machine_s_zone(
    riyadh_local_time,
):
    """`-0000` marks a date in UTC with no zone named; it was read in the machine's zone, so
    on a Riyadh machine a date two minutes ahead was three hours past: no wait at all."""
    import email.utils
    import time

    from tjar_pipelines.client.retrying import _retry_after

    ahead = email.utils.formatdate(time.time() + 120)
    assert ahead.endswith("-0000")
    assert _retry_after(ahead) == pytest.approx(120, abs=5)


def test_a_503_that_says_when_the_store_is_back_waits_that_long():
    clock = FakeClock()
    handler = Scripted(httpx.Response(503, headers={"Retry-After": "40"}), ok())
    with mock_client(handler, clock=clock) as client:
        assert client.get_order(7).identifier == "7"
    assert sum(clock.sleeps) == pytest.approx(40.0, abs=0.01)
    longer = Scripted(httpx.Response(503, headers={"Retry-After": "3600"}), ok())
    with mock_client(longer) as client, pytest.raises(TjarServerError, match="max_retry_after"):
        client.get_order(7)
    assert len(longer.calls) == 1


def test_an_untrusted_certificate_fails_at_once_saying_so_without_the_key():
    failing = Scripted(
        httpx.ConnectError(
            f"[SSL: CERTIFICATE_VERIFY_FAILED] certificate verify failed (sent {API_KEY})"
        )
    )
    with mock_client(failing) as client, pytest.raises(TjarTransportError) as err:
        client.get_order(7)
    assert len(failing.calls) == 1
    message = str(err.value)
    assert "CERTIFICATE_VERIFY_FAILED" in message and "not trusted" in message
    assert API_KEY not in message and "***" in message
    refused = Scripted(httpx.ConnectError("[Errno 111] Connection refused"), ok())
    with mock_client(refused) as client:
        assert client.get_order(7).identifier == "7"  # retried, as before


def test_a_body_nested_too_deep_is_a_broken_body_not_a_crash():
    from tjar_pipelines.client.retrying import decode_object

    with pytest.raises(ValueError, match="nested too deep"):
        decode_object(b"[" * 200_000)
    handler = Scripted(httpx.Response(200, content=b'{"data":' + b"[" * 200_000))
    with mock_client(handler) as client, pytest.raises(TjarResponseError):
        client.get_order(7)


def test_429_without_retry_after_backs_off_exponentially_with_jitter():
    clock = FakeClock()
    settings = ClientSettings(max_attempts=5, backoff_base=1.0, backoff_cap=3.0, burst=100)
    handler = Scripted(httpx.Response(429))
    with mock_client(handler, clock=clock, settings=settings) as client:
        with pytest.raises(TjarRateLimitError) as err:
            client.get_order(7)
    assert len(handler.calls) == 5
    assert err.value.attempts == 5 and err.value.status == 429
    assert "gave up after 5 attempts" in str(err.value)
    waits = [w for w in clock.sleeps if w > 1e-5]
    assert len(waits) == 4
    for attempt, wait in enumerate(waits, start=1):
        assert 0 <= wait <= min(3.0, 2 ** (attempt - 1))


def test_429_retry_after_longer_than_allowed_fails_fast():
    handler = Scripted(httpx.Response(429, headers={"Retry-After": "3600"}))
    with mock_client(handler) as client, pytest.raises(TjarRateLimitError, match="max_retry_after"):
        client.get_order(7)
    assert len(handler.calls) == 1


def test_a_429_pauses_every_caller_of_the_store():
    clock = FakeClock()
    handler = Scripted(httpx.Response(429, headers={"Retry-After": "5"}), ok(), ok())
    with mock_client(handler, clock=clock) as client:
        client.get_order(7)
        client.get_order(7)
    assert sum(clock.sleeps) == pytest.approx(5.0, abs=0.01)  # the pause, then the steady rate


def test_the_client_times_its_requests_for_the_stores_rate_windows():
    """Each request's round trip reaches the bucket, which dates the store's windows by it."""
    clock = FakeClock()
    arrived: list[float] = []

    def handler(request: httpx.Request) -> httpx.Response:
        arrived.append(clock.now)
        clock.sleep(0.08)  # the store's work and the way back (the way there takes no time)
        left = 9 - (len(arrived) - 1) % 10
        return ok(**{"X-RateLimit-Limit": "10", "X-RateLimit-Remaining": str(left)})

    settings = ClientSettings(requests_per_second=10, burst=10, rate_limit_window=1.0)
    with mock_client(handler, clock=clock, settings=settings) as client:
        for _ in range(21):
            client.get_order(7)
    # The first window from its answer; the second half the shortest trip (0.04 s) earlier.
    assert arrived[10] == pytest.approx(arrived[0] + 0.08 + 1.0)
    assert arrived[20] == pytest.approx(arrived[10] + 0.08 - 0.04 + 1.0)


@pytest.mark.parametrize("status", [500, 502, 503, 504])
def test_5xx_is_retried(status):
    handler = Scripted(
        httpx.Response(status, json={"status": "error", "message": "Server Error"}), ok()
    )
    with mock_client(handler) as client:
        client.get_order(7)
    assert len(handler.calls) == 2


def test_5xx_until_attempts_run_out_is_a_typed_error():
    handler = Scripted(httpx.Response(500, json={"status": "error", "message": "Server Error"}))
    with mock_client(handler, settings=ClientSettings(max_attempts=3)) as client:
        with pytest.raises(TjarServerError) as err:
            client.get_order(7)
    assert len(handler.calls) == 3
    message = str(err.value)
    assert "[store acme] GET /orders/7" in message and "Server Error" in message


@pytest.mark.parametrize(
    "body", [b'{"status":"success","data":{"orders":[{"id":1', b"<html>502</html>", b"[1, 2]"]
)
def test_garbled_200_is_retried(body):
    handler = Scripted(httpx.Response(200, content=body), ok())
    with mock_client(handler) as client:
        assert client.get_order(7).identifier == "7"
    assert len(handler.calls) == 2


def test_garbled_200_until_attempts_run_out():
    handler = Scripted(httpx.Response(200, content=b'{"status":'))
    with mock_client(handler, settings=ClientSettings(max_attempts=2)) as client:
        with pytest.raises(TjarResponseError, match="not a JSON object"):
            client.get_order(7)


@pytest.mark.parametrize(
    "exc",
    [
        httpx.ReadError("Connection reset by peer"),
        httpx.RemoteProtocolError("Server disconnected without sending a response."),
        httpx.ReadTimeout("timed out"),
        httpx.ConnectError("Connection refused"),
    ],
)
def test_transport_failures_are_retried(exc):
    handler = Scripted(exc, ok())
    with mock_client(handler) as client:
        client.get_order(7)
    assert len(handler.calls) == 2


def test_connection_resets_until_attempts_run_out():
    handler = Scripted(httpx.ReadError("Connection reset by peer"))
    with mock_client(handler, settings=ClientSettings(max_attempts=4)) as client:
        with pytest.raises(TjarTransportError, match="ReadError"):
            client.get_order(7)
    assert len(handler.calls) == 4


def test_post_is_not_resent_after_it_may_have_arrived():
    handler = Scripted(httpx.Response(500), ok({"data": {"id": 1}}))
    with mock_client(handler) as client, pytest.raises(TjarServerError):
        client.register_webhook(name="x", url="https://example.test/hook")
    assert len(handler.calls) == 1


def test_post_is_resent_when_the_connection_never_opened():
    created = {"data": {"id": 4, "name": "x", "url": "https://e.test", "events": ["order.created"]}}
    handler = Scripted(httpx.ConnectError("refused"), httpx.Response(201, json=created))
    with mock_client(handler) as client:
        hook = client.register_webhook(name="x", url="https://e.test", events=["order.created"])
    assert hook.identifier == "4" and len(handler.calls) == 2
    assert json.loads(handler.calls[0].content)["events"] == ["order.created"]


def test_a_store_without_paging_metadata_that_repeats_its_last_page_past_the_end(caplog):
    """A short page, then the same page again: that was the end, not a silent page-size limit
    (which would give new records); no limit is learned and nothing fails."""
    ids = list(range(1137, 1000, -1))  # 137 orders: a full page of 100, then 37

    def handler(request: httpx.Request) -> httpx.Response:
        per = int(request.url.params["per_page"])
        page = min(int(request.url.params["page"]), -(-len(ids) // per))
        rows = [order_json(i) for i in ids[(page - 1) * per : page * per]]
        return httpx.Response(200, json={"data": {"orders": rows}})

    with mock_client(handler) as client:
        read = [o.identifier for o in client.iter_orders(ANY_DAY, ANY_DAY)]
        assert client._page_sizes == {}
    assert sorted(map(int, read)) == sorted(ids) and "per page" not in caplog.text


def test_a_silent_page_limit_with_exactly_a_page_of_arrivals_still_reads_everything():
    """No paging metadata, 10 records a page whatever is asked, and 10 orders arrive between
    the first and the second page: the second page repeats the first, which looks like a
    store repeating its last page, until the third brings new records."""
    ids = list(range(1100, 1000, -1))
    served: list[int] = []

    def handler(request: httpx.Request) -> httpx.Response:
        page = int(request.url.params["page"])
        served.append(page)
        if len(served) == 2:
            ids[:0] = list(range(1110, 1100, -1))
        rows = [order_json(i) for i in ids[(page - 1) * 10 : page * 10]]
        return httpx.Response(200, json={"data": {"orders": rows}})

    with mock_client(handler, settings=ClientSettings(prefetch=False)) as client:
        read = {o.identifier for o in client.iter_orders(ANY_DAY, ANY_DAY)}
    assert read >= {str(i) for i in range(1001, 1101)}


def test_401_names_store_variable_and_dashboard_and_is_not_retried():
    handler = Scripted(httpx.Response(401, json={"status": "error", "message": "Unauthenticated."}))
    with mock_client(handler) as client, pytest.raises(TjarAuthError) as err:
        list(client.iter_orders(ANY_DAY, ANY_DAY))
    message = str(err.value)
    assert len(handler.calls) == 1
    assert "store acme" in message and KEY_ENV in message
    assert "General Settings → Developers" in message and "GET /orders?" in message
    assert API_KEY not in message and API_KEY not in repr(err.value)


def test_a_redirect_names_where_to_and_the_setting_to_change_and_is_not_followed():
    moved = "https://new.tjar.example/api/core/v1/products/3"
    handler = Scripted(httpx.Response(301, headers={"Location": moved}))
    with mock_client(handler) as client, pytest.raises(TjarClientRequestError) as err:
        client.get_product(3)
    message = str(err.value)
    assert len(handler.calls) == 1 and "store acme" in message
    assert f"301 redirect to {moved}" in message and "base_url in stores.yaml" in message


@pytest.mark.parametrize("cut", [150, 190, 199])
def test_a_key_echoed_where_a_message_is_cut_is_masked_before_the_cut(cut):
    """Masked first, then cut at 200 characters: a key split by the cut still never shows."""
    padding = "x" * (cut - len("https://h/"))
    handler = Scripted(
        httpx.Response(302, headers={"Location": f"https://h/{padding}{API_KEY}"}),
        httpx.Response(400, json={"message": f"{padding}{API_KEY} is not a valid key"}),
    )
    with mock_client(handler) as client:
        for _ in range(2):
            with pytest.raises(TjarClientRequestError) as err:
                client.get_product(3)
            assert API_KEY[:8] not in str(err.value)


def test_403_is_an_auth_error():
    handler = Scripted(httpx.Response(403))
    with mock_client(handler) as client, pytest.raises(TjarAuthError, match="lacks a permission"):
        client.get_product(3)


@pytest.mark.parametrize(
    "body", [{"status": "error", "message": "Not found"}, None, {"message": "No query results"}]
)
def test_404_with_any_body(body):
    response = httpx.Response(404, json=body) if body else httpx.Response(404)
    with mock_client(Scripted(response)) as client, pytest.raises(TjarNotFoundError) as err:
        client.get_order(999)
    assert err.value.path == "/orders/999" and err.value.status == 404


def test_422_keeps_the_field_errors():
    body = {
        "message": "The url must be a valid URL.",
        "errors": {"url": ["The url must be a valid URL."]},
    }
    with mock_client(Scripted(httpx.Response(422, json=body))) as client:
        with pytest.raises(TjarValidationError) as err:
            client.register_webhook(name="x", url="nope")
    assert err.value.errors == {"url": ["The url must be a valid URL."]}
    assert "url: The url must be a valid URL." in str(err.value)


def test_other_4xx_is_a_client_error():
    with mock_client(Scripted(httpx.Response(418, text="teapot"))) as client:
        with pytest.raises(TjarClientRequestError, match="418"):
            client.get_order(1)


def test_server_ignoring_the_page_parameter_is_detected():
    handler = Scripted(ok(orders_page(list(range(1, 101)))))
    with mock_client(handler) as client, pytest.raises(TjarPaginationError, match="ignore"):
        list(client.iter_orders(ANY_DAY, ANY_DAY))


def test_a_total_that_never_adds_up_is_an_error_or_a_warning(caplog):
    handler = Scripted(ok(orders_page([1, 2, 3], last_page=1, total=5)))
    with mock_client(handler) as client, pytest.raises(TjarPaginationError, match="total 5"):
        list(client.iter_orders(ANY_DAY, ANY_DAY))
    settings = ClientSettings(on_total_mismatch="warn", requests_per_second=1e4, burst=100)
    with mock_client(handler, settings=settings) as client:
        assert len(list(client.iter_orders(ANY_DAY, ANY_DAY))) == 3
    assert "reports total 5" in caplog.text


def test_a_row_that_slipped_past_is_found_by_rereading():
    """A store sorting by a changing field moves order 9 above the reader: it is re-read."""
    pages = {1: [1, 2], 2: [3, 4], 3: [9, 5]}
    calls: list[int] = []

    def moving(request: httpx.Request) -> httpx.Response:
        page = int(request.url.params["page"])
        calls.append(page)
        if len(calls) == 2:  # between page 1 and page 2, order 9 jumps to the top
            pages.update({1: [9, 1], 2: [2, 3], 3: [4, 5]})
        return ok(orders_page(pages.get(page, []), page=page, last_page=3, total=6))

    with mock_client(moving) as client:
        ids = [o.identifier for o in client.iter_orders(ANY_DAY, ANY_DAY)]
    assert sorted(ids, key=int) == ["1", "2", "3", "4", "5", "9"]
    assert len(ids) == len(set(ids))
    assert calls == [1, 2, 3, 1, 2]  # one pass, then the head until a page holds nothing new


def test_empty_list_and_data_as_bare_list():
    with mock_client(Scripted(ok({"status": "success", "data": {"orders": []}}))) as client:
        assert list(client.iter_orders(ANY_DAY, ANY_DAY)) == []
    bare = {"status": "success", "data": [order_json(1), order_json(2)]}
    with mock_client(Scripted(ok(bare), ok({"data": []}))) as client:
        assert [o.identifier for o in client.iter_orders(ANY_DAY, ANY_DAY)] == ["1", "2"]


def test_list_without_the_list_key_is_a_response_error():
    with mock_client(Scripted(ok({"status": "success", "data": {"items": []}}))) as client:
        with pytest.raises(TjarResponseError, match=r"no list under data\.orders"):
            list(client.iter_orders(ANY_DAY, ANY_DAY))


def test_record_without_identifier_is_refused_not_dropped():
    body = {"data": {"orders": [{"total_amount": 3}]}}
    with mock_client(Scripted(ok(body))) as client:
        with pytest.raises(TjarResponseError, match="no identifier"):
            list(client.iter_orders(ANY_DAY, ANY_DAY))


@pytest.mark.parametrize("kind", ["order", "product"])
def test_one_record_without_identifier_names_the_store_and_what_to_do(kind):
    body = {"status": "success", "data": {"total_amount": 3, "name": "x"}}
    with mock_client(Scripted(ok(body))) as client:
        fetch = client.get_order if kind == "order" else client.get_product
        with pytest.raises(TjarResponseError) as caught:
            fetch(7)
    message = str(caught.value)
    assert message.startswith(f"[store {client.store}] GET /{kind}s/7: the record has no ident")
    assert "report it" in message


def test_reversed_window_is_refused():
    with mock_client(Scripted(ok())) as client, pytest.raises(ValueError, match="store acme"):
        list(client.iter_orders(ANY_DAY, ANY_DAY.replace(day=1)))


def test_exactly_one_page_of_arrivals_is_a_shift_not_an_error():
    """Two new orders arrive between page 1 and page 2 (page size 2): page 2 repeats page 1."""
    rows = [6, 5, 4, 3, 2, 1]
    calls: list[int] = []

    def shifting(request: httpx.Request) -> httpx.Response:
        page = int(request.url.params["page"])
        calls.append(page)
        if len(calls) == 2:
            rows[:0] = [8, 7]
        ids = rows[(page - 1) * 2 : page * 2]
        last = -(-len(rows) // 2)
        return ok(orders_page(ids, page=page, last_page=last, total=len(rows)))

    with mock_client(shifting) as client:
        ids = [o.identifier for o in client.iter_orders(ANY_DAY, ANY_DAY)]
    assert sorted(map(int, ids)) == [1, 2, 3, 4, 5, 6, 7, 8]


def test_a_store_that_says_it_served_another_page_is_caught_at_once():
    def stuck(request: httpx.Request) -> httpx.Response:
        return ok(orders_page([1, 2], page=1, last_page=5, total=10))

    with mock_client(stuck) as client, pytest.raises(TjarPaginationError, match="ignore"):
        list(client.iter_orders(ANY_DAY, ANY_DAY))


def test_missing_created_at_is_logged(caplog):
    body = {"data": {"orders": [order_json(1, created_at=None)]}}
    with mock_client(Scripted(ok(body), ok({"data": {"orders": []}}))) as client:
        [order] = client.iter_orders(ANY_DAY, ANY_DAY)
    assert order.order_date == ANY_DAY and order.created_at is None
    assert "no readable created_at" in caplog.text


def test_a_body_that_fails_to_decode_is_retried_as_a_transport_error():
    handler = Scripted(httpx.DecodingError("bad gzip"), ok())
    with mock_client(handler) as client:
        client.get_order(7)
    assert len(handler.calls) == 2


@pytest.mark.parametrize("status", [404, 422])
def test_an_error_on_a_page_the_store_said_exists_is_not_taken_for_the_end(status):
    """Only where the pages do not say how many there are is an error past a page the end."""

    def handler(request: httpx.Request) -> httpx.Response:
        if request.url.params["page"] == "1":
            return httpx.Response(200, json=orders_page([1, 2], page=1, last_page=3, total=6))
        return httpx.Response(status, json={"message": "gone"})

    with mock_client(handler) as client, pytest.raises((TjarNotFoundError, TjarValidationError)):
        list(client.iter_orders(ANY_DAY, ANY_DAY))


def test_a_redirect_past_a_page_is_not_taken_for_the_end():
    def handler(request: httpx.Request) -> httpx.Response:
        if request.url.params["page"] == "1":
            return httpx.Response(200, json=orders_page(list(range(1, 101))))
        return httpx.Response(302, headers={"location": "https://elsewhere.example/"})

    with mock_client(handler) as client, pytest.raises(TjarClientRequestError, match="302"):
        list(client.iter_orders(ANY_DAY, ANY_DAY))


def test_a_200_that_reports_an_error_says_what_the_store_said():
    said = {"status": "error", "message": f"Invalid token {API_KEY}"}
    with mock_client(Scripted(ok(said))) as client, pytest.raises(TjarResponseError) as err:
        list(client.iter_orders(ANY_DAY, ANY_DAY))
    assert "store says: Invalid token ***" in str(err.value) and API_KEY not in str(err.value)
    with mock_client(Scripted(ok(said))) as client, pytest.raises(TjarResponseError) as err:
        client.get_order(7)
    assert "store says: Invalid token ***" in str(err.value)


def test_each_list_keeps_the_page_size_it_serves():
    """Orders clamped to 50 and products to 20, neither saying so: one client reads both
    whole (the products' size was taken from the orders, so their first page was the end)."""
    orders, products = list(range(1120, 1000, -1)), list(range(1, 46))

    def handler(request: httpx.Request) -> httpx.Response:
        asked = int(request.url.params["per_page"])
        page = int(request.url.params["page"])
        if request.url.path.endswith("/orders"):
            per = min(asked, 50)
            rows = [order_json(i) for i in orders[(page - 1) * per : page * per]]
            return httpx.Response(200, json={"data": {"orders": rows}})
        per = min(asked, 20)
        rows = [{"identifier": i, "name": f"p{i}"} for i in products[(page - 1) * per : page * per]]
        return httpx.Response(200, json={"data": {"products": rows}})

    with mock_client(handler) as client:
        assert sorted(int(o.identifier) for o in client.iter_orders(ANY_DAY, ANY_DAY)) == sorted(
            orders
        )
        assert sorted(int(p.identifier) for p in client.iter_products()) == products
        assert client._page_sizes == {"/orders": 50, "/products": 20}


def test_a_404_for_a_moment_past_a_full_page_is_asked_again_not_taken_for_the_end(caplog):
    """No page counts; page 2 answers 404 once (a store being deployed), then its orders."""
    ids = list(range(1150, 1000, -1))
    failed: list[int] = []

    def handler(request: httpx.Request) -> httpx.Response:
        page = int(request.url.params["page"])
        if page == 2 and not failed:
            failed.append(page)
            return httpx.Response(404, json={"message": "Not found"})
        per = int(request.url.params["per_page"])
        rows = [order_json(i) for i in ids[(page - 1) * per : page * per]]
        if not rows:
            return httpx.Response(404, json={"message": "Not found"})
        return httpx.Response(200, json={"data": {"orders": rows}})

    with mock_client(handler, settings=ClientSettings(prefetch=False)) as client:
        read = [int(o.identifier) for o in client.iter_orders(ANY_DAY, ANY_DAY)]
    assert sorted(read) == sorted(ids) and failed == [2]
    assert "page 3 answered 404 not found (store says: Not found) twice" in caplog.text


def test_an_error_answer_nested_too_deep_is_still_a_typed_error():
    deep = b'{"message": ' + b"[" * 200_000 + b"}"
    with mock_client(Scripted(httpx.Response(500, content=deep))) as client:
        with pytest.raises(TjarServerError):
            client.get_order(7)


def test_a_503_pause_is_not_taken_for_the_store_s_rate_limit():
    """A 429 makes the bucket date the store's windows by answers from then on; a 503 that
    says when the store is back is an outage, not its rate limit."""
    handler = Scripted(httpx.Response(503, headers={"Retry-After": "2"}), ok())
    with mock_client(handler) as client:
        client.get_order(7)
        assert client._requester._bucket._dated_by_answers is False
    with mock_client(Scripted(httpx.Response(429, headers={"Retry-After": "2"}), ok())) as c:
        c.get_order(7)
        assert c._requester._bucket._dated_by_answers is True
