"""The router in one process: routing, health, 502/503, mirroring, and the admin API.

Backends are model-server apps called through httpx's ASGITransport (no sockets); the
real-socket tests are in test_serving_live.py.
"""

from __future__ import annotations

import asyncio

import httpx
import pytest

from mlcicd_course.errors import UserInputError
from mlcicd_course.serving.routing import RoutingTable, TableError, assign
from mlcicd_course.serving.settings import load_routes
from tests.serving_support import (
    TOKEN,
    admin_headers,
    client_of,
    fast_apps,
    in_process_router,
    rows,
)


@pytest.fixture(scope="module")
def apps(tmp_path_factory):
    return fast_apps(tmp_path_factory.mktemp("models"))


class FlakyBackend(httpx.AsyncBaseTransport):
    """Ready on /health/ready, but drops every other request (a crashing server)."""

    def __init__(self, ready: bool = True) -> None:
        self.ready = ready

    async def handle_async_request(self, request: httpx.Request) -> httpx.Response:
        if request.url.path == "/health/ready":
            return httpx.Response(200 if self.ready else 503)
        raise httpx.ConnectError("connection reset by peer", request=request)


class SlowBackend(httpx.AsyncBaseTransport):
    """Ready, but takes `delay` seconds and then answers 500: a bad shadow."""

    def __init__(self, delay: float) -> None:
        self.delay = delay
        self.calls = 0

    async def handle_async_request(self, request: httpx.Request) -> httpx.Response:
        if request.url.path == "/health/ready":
            return httpx.Response(200)
        self.calls += 1
        await asyncio.sleep(self.delay)
        return httpx.Response(500)


def run(router, scenario):
    async def main():
        async with router.running(), client_of(router) as client:
            return await scenario(client)
    return asyncio.run(main())


def test_single_mode_sends_everything_to_one_version_with_its_header(apps):
    router = in_process_router(apps, RoutingTable({"blue": 100, "green": 0}))

    async def scenario(client):
        return [await client.post("/predict", json=rows(2), headers={"X-User-Id": f"u{i}"})
                for i in range(6)]

    answers = run(router, scenario)
    assert {a.headers["X-Model-Version"] for a in answers} == {"blue"}
    assert {tuple(a.json()["predictions"]) for a in answers} == {(0, 0)}


def test_users_stick_to_their_version_and_testers_can_override(apps):
    table = RoutingTable({"blue": 50, "green": 50}, mode="weighted", seed="exp")
    router = in_process_router(apps, table)
    users = [f"user-{i}" for i in range(16)]

    async def scenario(client):
        seen = {}
        for _ in range(2):
            for user in users:
                answer = await client.post("/predict", json=rows(1),
                                           headers={"X-User-Id": user})
                seen.setdefault(user, set()).add(answer.headers["X-Model-Version"])
        by_cookie = await client.post("/predict", json=rows(1),
                                      headers={"Cookie": f"theme=dark; uid={users[0]}"})
        forced = await client.post("/predict", json=rows(1),
                                   headers={"X-User-Id": users[0], "X-Route-To": "green"})
        unknown = await client.post("/predict", json=rows(1), headers={"X-Route-To": "red"})
        return seen, by_cookie, forced, unknown

    seen, by_cookie, forced, unknown = run(router, scenario)
    assert {u: v for u, v in seen.items()} == {u: {assign(table, u)} for u in users}
    assert {v for versions in seen.values() for v in versions} == {"blue", "green"}
    assert by_cookie.headers["X-Model-Version"] == assign(table, users[0])
    assert forced.headers["X-Model-Version"] == "green"
    assert unknown.status_code == 400 and "unknown version 'red'" in unknown.json()["detail"]


def test_the_preview_version_is_reachable_only_through_the_override(apps):
    router = in_process_router(apps, RoutingTable({"blue": 100, "green": 0}))

    async def scenario(client):
        plain = [(await client.post("/predict", json=rows(1))).headers["X-Model-Version"]
                 for _ in range(8)]
        preview = await client.get("/version", headers={"X-Route-To": "green"})
        return plain, preview

    plain, preview = run(router, scenario)
    assert set(plain) == {"blue"}
    assert preview.json()["version"] == "green"


def test_per_version_metrics_count_what_each_version_served(apps):
    router = in_process_router(apps, RoutingTable({"blue": 50, "green": 50}, mode="weighted"))

    async def scenario(client):
        answers = [await client.post("/predict", json=rows(1), headers={"X-User-Id": f"u{i}"})
                   for i in range(12)]
        return answers, (await client.get("/router/metrics")).text

    answers, metrics = run(router, scenario)
    for version in ("blue", "green"):
        served = sum(a.headers["X-Model-Version"] == version for a in answers)
        assert f'router_requests_total{{status="200",version="{version}"}} {served}.0' in metrics


def test_an_unhealthy_backend_gets_no_traffic_and_none_healthy_is_503(apps):
    router = in_process_router({"blue": apps["blue"]},
                               RoutingTable({"blue": 50, "green": 50}, mode="weighted"),
                               transports={"green": FlakyBackend(ready=False)})

    async def scenario(client):
        answers = [await client.post("/predict", json=rows(1), headers={"X-User-Id": f"u{i}"})
                   for i in range(8)]
        forced = await client.post("/predict", json=rows(1), headers={"X-Route-To": "green"})
        router.swap(RoutingTable({"blue": 0, "green": 100}))
        none_healthy = await client.post("/predict", json=rows(1))
        return answers, forced, none_healthy

    answers, forced, none_healthy = run(router, scenario)
    assert {a.headers["X-Model-Version"] for a in answers} == {"blue"}
    assert forced.status_code == 503 and "green is not healthy" in forced.json()["detail"]
    assert none_healthy.status_code == 503
    assert none_healthy.json()["detail"] == (
        "no healthy backend to answer (green: not ready (HTTP 503))")


def test_a_backend_that_fails_mid_request_gives_502_naming_it(apps):
    router = in_process_router({"blue": apps["blue"]}, RoutingTable({"blue": 0, "green": 100}),
                               transports={"green": FlakyBackend()})

    async def scenario(client):
        failed = await client.post("/predict", json=rows(1))
        return failed, (await client.get("/router/metrics")).text

    failed, metrics = run(router, scenario)
    assert failed.status_code == 502
    assert failed.headers["X-Model-Version"] == "green"
    assert failed.json()["detail"] == "backend green failed: ConnectError: connection reset by peer"
    assert 'router_upstream_errors_total{version="green"} 1.0' in metrics


def test_mirror_copies_go_to_the_shadow_after_the_answer_and_never_hurt_it(apps):
    shadow = SlowBackend(delay=0.3)
    table = RoutingTable({"blue": 100}, mode="mirror", shadow="green")
    router = in_process_router({"blue": apps["blue"]}, table, transports={"green": shadow},
                               shadow_queue_size=2, shadow_workers=1)

    async def scenario(client):
        loop = asyncio.get_running_loop()
        started = loop.time()
        answers = [await client.post("/predict", json=rows(1)) for _ in range(8)]
        elapsed = loop.time() - started
        await router.shadow.drain()
        return answers, elapsed, (await client.get("/router/metrics")).text

    answers, elapsed, metrics = run(router, scenario)
    assert [a.status_code for a in answers] == [200] * 8
    assert {a.headers["X-Model-Version"] for a in answers} == {"blue"}
    assert elapsed < 8 * 0.3  # the client never waited for the 0.3 s shadow
    dropped = 'router_shadow_requests_total{outcome="dropped",version="green"}'
    errors = 'router_shadow_requests_total{outcome="error",version="green"}'
    counts = {line.rsplit(" ", 1)[0]: float(line.rsplit(" ", 1)[1])
              for line in metrics.splitlines() if line.startswith("router_shadow_requests_total")}
    assert counts[dropped] > 0  # the queue of 2 overflowed, and said so
    assert counts[errors] == shadow.calls
    assert counts[dropped] + counts[errors] == 8


# -- admin API -----------------------------------------------------------------------

def test_admin_refuses_a_missing_or_wrong_token_and_changes_nothing(apps):
    router = in_process_router(apps, RoutingTable({"blue": 100, "green": 0}))
    change = {"blue": 0, "green": 100}

    async def scenario(client):
        return [
            await client.put("/router/admin/weights", json=change),
            await client.put("/router/admin/weights", json=change,
                             headers=admin_headers("wrong-token")),
            await client.put("/router/admin/weights", json=change,
                             headers={"Authorization": TOKEN}),  # no "Bearer"
            await client.get("/router/admin/table"),
        ]

    answers = run(router, scenario)
    assert [a.status_code for a in answers] == [401] * 4
    assert answers[0].headers["WWW-Authenticate"] == "Bearer"
    assert dict(router.table.weights) == {"blue": 100, "green": 0}
    assert not router.history


def test_admin_answers_local_clients_only(apps):
    router = in_process_router(apps, RoutingTable({"blue": 100, "green": 0}))

    async def main():
        async with router.running(), client_of(router, host="192.168.1.20") as client:
            return await client.get("/router/admin/table", headers=admin_headers())

    assert asyncio.run(main()).status_code == 403


@pytest.mark.parametrize(("path", "body", "reason"), [
    ("weights", {"blue": 50, "red": 50}, "unknown backend 'red'; known: blue, green"),
    ("weights", {"blue": 150, "green": -50}, "weight of blue must be an integer 0-100"),
    ("weights", {"blue": 50, "green": 40}, "weights must sum to 100, got 90"),
    ("weights", [100, 0], "expected weights as a JSON object"),
    ("table", {"weights": {"blue": 100}, "mode": "mirror", "shadow": "red"},
     "unknown backend 'red'"),
    ("table", {"weights": {"blue": 100}, "colour": "blue"}, "unknown key 'colour'"),
])
def test_admin_refuses_a_bad_table_with_the_reason_and_changes_nothing(apps, path, body, reason):
    router = in_process_router(apps, RoutingTable({"blue": 100, "green": 0}))

    async def scenario(client):
        answer = await client.put(f"/router/admin/{path}", json=body, headers=admin_headers())
        invalid = await client.put(f"/router/admin/{path}", content=b"{oops",
                                   headers=admin_headers())
        return answer, invalid

    answer, invalid = run(router, scenario)
    assert answer.status_code == 400 and reason in answer.json()["detail"]
    assert invalid.status_code == 400 and "not valid JSON" in invalid.json()["detail"]
    assert dict(router.table.weights) == {"blue": 100, "green": 0}
    assert answer.json()["table"]["weights"] == {"blue": 100, "green": 0}


def test_admin_set_promote_abort_undo(apps):
    router = in_process_router(apps, RoutingTable({"blue": 100, "green": 0}))

    async def scenario(client):
        async def call(method, action, body=None):
            answer = await client.request(method, f"/router/admin/{action}", json=body,
                                          headers=admin_headers())
            assert answer.status_code == 200, answer.text
            return answer.json()

        steps = [await call("PUT", "weights", {"blue": 90, "green": 10}),
                 await call("POST", "abort"),
                 await call("POST", "undo"),
                 await call("POST", "promote", {"version": "green"}),
                 await call("POST", "abort"),
                 await call("PUT", "table", {"weights": {"green": 100}, "mode": "mirror",
                                             "shadow": "blue"}),
                 await call("GET", "table")]
        router.history.clear()
        nothing = await client.post("/router/admin/undo", headers=admin_headers())
        return steps, nothing

    steps, nothing = run(router, scenario)
    tables = [(s["table"]["mode"], s["table"]["weights"], s["stable"]) for s in steps]
    assert tables == [
        ("weighted", {"blue": 90, "green": 10}, "blue"),
        ("single", {"blue": 100, "green": 0}, "blue"),     # abort: back to stable blue
        ("weighted", {"blue": 90, "green": 10}, "blue"),   # undo the abort
        ("single", {"blue": 0, "green": 100}, "green"),    # promote: green is stable
        ("single", {"blue": 0, "green": 100}, "green"),    # abort: already on stable
        ("mirror", {"green": 100}, "green"),
        ("mirror", {"green": 100}, "green"),
    ]
    assert steps[-1]["backends"]["blue"]["health"] == "ok"
    assert nothing.status_code == 400 and "nothing to undo" in nothing.json()["detail"]


def test_the_router_itself_shifts_traffic_like_its_admin_client(apps):
    router = in_process_router(apps, RoutingTable({"blue": 100, "green": 0}, seed="s"))
    router.set_weights({"blue": 75, "green": 25})
    assert router.weights() == {"blue": 75, "green": 25}
    assert (router.table.mode, router.table.seed) == ("weighted", "s")
    with pytest.raises(TableError, match="sum to 100"):
        router.set_weights({"blue": 75, "green": 75})
    assert router.weights() == {"blue": 75, "green": 25}


def test_promoting_an_unhealthy_version_is_refused(apps):
    router = in_process_router({"blue": apps["blue"]}, RoutingTable({"blue": 100, "green": 0}),
                               transports={"green": FlakyBackend(ready=False)})

    async def scenario(client):
        return await client.post("/router/admin/promote", json={"version": "green"},
                                 headers=admin_headers())

    answer = run(router, scenario)
    assert answer.status_code == 400 and "green is not healthy" in answer.json()["detail"]
    assert router.stable == "blue" and dict(router.table.weights) == {"blue": 100, "green": 0}


class TimingOut(httpx.AsyncBaseTransport):
    """Ready, but every other request times out."""

    async def handle_async_request(self, request: httpx.Request) -> httpx.Response:
        if request.url.path == "/health/ready":
            return httpx.Response(200)
        raise httpx.ReadTimeout("timed out", request=request)


def test_a_backend_timeout_is_a_502_too(apps):
    router = in_process_router({}, RoutingTable({"slow": 100}), transports={"slow": TimingOut()})
    answer = run(router, lambda client: client.post("/predict", json=rows(1)))
    assert answer.status_code == 502
    assert answer.json()["detail"] == "backend slow failed: timeout: timed out"


def test_experiment_mode_gives_anonymous_requests_the_first_version(apps):
    table = RoutingTable({"green": 50, "blue": 50}, mode="experiment", seed="exp-9")
    router = in_process_router(apps, table)

    async def scenario(client):
        anonymous = [(await client.post("/predict", json=rows(1))).headers["X-Model-Version"]
                     for _ in range(4)]
        users = {f"u{i}": (await client.post("/predict", json=rows(1), headers={
            "X-User-Id": f"u{i}"})).headers["X-Model-Version"] for i in range(12)}
        return anonymous, users

    anonymous, users = run(router, scenario)
    assert set(anonymous) == {"green"}
    assert users == {u: assign(table, u) for u in users}
    assert set(users.values()) == {"blue", "green"}


def test_routes_files_are_checked_with_one_line_reasons(tmp_path):
    path = tmp_path / "routes.yaml"
    cases = [
        ("table: {weights: {blue: 100}}\n", "has no backends|backends must map"),
        ("backends: {blue: 'ftp://x'}\ntable: {weights: {blue: 100}}\n",
         "backend blue: expected an http:// URL"),
        ("backends: {blue: 'http://127.0.0.1:1'}\ntable: {weights: {blue: 100}}\n"
         "settings: {request_timeout_s: 0}\n", "request_timeout_s must be in"),
        ("backends: {blue: 'http://127.0.0.1:1'}\ntable: {weights: {blue: 100}}\n"
         "settings: {retries: 3}\n", "unknown option 'retries'"),
        ("backends: {blue: 'http://127.0.0.1:1'}\ntable: {weights: {blue: 100}}\n"
         "settings: {upstream_client: requests}\n", "upstream_client must be one of"),
        ("backends: {blue: 'http://127.0.0.1:1'}\n", "has no weights|mapping"),
        ("- just a list\n", "expected a mapping with backends and table"),
        ("backends: {}\ntable: {}\nextra: 1\n", "unknown key 'extra'"),
    ]
    for text, message in cases:
        path.write_text(text)
        with pytest.raises(UserInputError, match=message) as caught:
            load_routes(path)
        assert str(caught.value).startswith(f"routes file {path}: ")
        assert "\n" not in str(caught.value)
    path.write_text("backends: {blue: 'http://127.0.0.1:1/'}\n"
                    "table: {weights: {blue: 100}}\nsettings: {health_interval_s: 2}\n")
    settings = load_routes(path)
    assert dict(settings.backends) == {"blue": "http://127.0.0.1:1"}
    assert settings.health_interval_s == 2
