"""Mirror mode end to end in one process: request ids, what is mirrored, the shadow log.

Backends are model-server apps or fake transports called through httpx's
ASGITransport (no sockets), as in test_serving_router.py.
"""

from __future__ import annotations

import asyncio
import json

import httpx
import pytest
import yaml

from mlcicd_course.errors import UserInputError
from mlcicd_course.serving.routing import RoutingTable
from mlcicd_course.serving.settings import load_routes
from mlcicd_course.shadow.log import read_log
from tests.serving_support import client_of, fast_apps, in_process_router, rows

MIRROR = RoutingTable({"blue": 100}, mode="mirror", shadow="green")


@pytest.fixture(scope="module")
def apps(tmp_path_factory):
    return fast_apps(tmp_path_factory.mktemp("models"))


class FakeShadow(httpx.AsyncBaseTransport):
    """Ready; records each request, waits `delay` s, then answers `status` or times out."""

    def __init__(self, status: int = 200, timeout: bool = False, delay: float = 0.0) -> None:
        self.status = status
        self.timeout = timeout
        self.delay = delay
        self.seen: list[httpx.Request] = []

    async def handle_async_request(self, request: httpx.Request) -> httpx.Response:
        if request.url.path == "/health/ready":
            return httpx.Response(200)
        self.seen.append(request)
        await asyncio.sleep(self.delay)
        if self.timeout:
            raise httpx.ReadTimeout("read timed out", request=request)
        size = len(json.loads(request.content))
        return httpx.Response(self.status, json={"predictions": [1] * size},
                              headers={"X-Request-Id": "set-by-the-backend"})


def run(router, scenario):
    async def main():
        async with router.running(), client_of(router) as client:
            result = await scenario(client)
            await router.shadow.drain()
            return result
    return asyncio.run(main())


def test_every_answer_carries_a_request_id_the_backend_also_saw():
    primary, shadow = FakeShadow(), FakeShadow()
    router = in_process_router({}, MIRROR, transports={"blue": primary, "green": shadow})

    async def scenario(client):
        given = await client.post("/predict", json=rows(1), headers={"X-Request-Id": "abc-1"})
        made = await client.post("/predict", json=rows(1))
        bad = await client.post("/predict", json=rows(1), headers={"X-Request-Id": "a b"})
        unknown = await client.get("/nowhere", headers={"X-Route-To": "red"})
        return given, made, bad, unknown

    given, made, bad, unknown = run(router, scenario)
    assert given.headers.get_list("X-Request-Id") == ["abc-1"]  # the backend's is dropped
    ids = [made.headers["X-Request-Id"], bad.headers["X-Request-Id"]]
    assert all(len(i) == 32 and int(i, 16) >= 0 for i in ids) and ids[0] != ids[1]
    assert unknown.status_code == 400 and len(unknown.headers["X-Request-Id"]) == 32
    sent = [["abc-1"], *[[i] for i in ids]]
    for seen in (primary.seen, shadow.seen):
        assert [r.headers.get_list("X-Request-Id") for r in seen] == sent
    assert {r.headers["X-Shadow"] for r in shadow.seen} == {"1"}


def test_only_post_predict_is_mirrored_and_logged_with_both_answers(apps, tmp_path):
    path = tmp_path / "shadow.jsonl"
    router = in_process_router(apps, MIRROR, shadow_log=str(path))
    batch = rows(2)

    async def scenario(client):
        answers = [await client.post("/predict", json=batch) for _ in range(6)]
        others = [await client.get("/version"), await client.get("/health/ready"),
                  await client.post("/predict/other", json=batch)]
        return answers, others

    answers, others = run(router, scenario)
    assert {a.json()["predictions"] == [0, 0] for a in answers} == {True}
    records = read_log(path)
    assert [r.id for r in records] == [a.headers["X-Request-Id"] for a in answers]
    first = records[0]
    assert (first.primary.version, first.shadow.version) == ("blue", "green")
    assert (first.primary.predictions, first.shadow.predictions) == ([0, 0], [1, 1])
    assert first.shadow.probabilities == [[0.0, 1.0], [0.0, 1.0]]
    assert first.inputs == batch and first.error is None and first.path == "/predict"
    assert first.primary.latency_ms > 0 and first.shadow.latency_ms > 0
    assert [o.status_code for o in others][:2] == [200, 200]


def test_the_sampling_percentage_decides_how_many_copies_are_sent():
    sent = {}
    for percent in (0, 30, 100):
        shadow = FakeShadow()
        table = RoutingTable({"blue": 100}, mode="mirror", shadow="green",
                             shadow_percent=percent)
        router = in_process_router({}, table, transports={"blue": FakeShadow(),
                                                          "green": shadow})

        async def scenario(client):
            for _ in range(100):
                await client.post("/predict", json=[{}])

        run(router, scenario)
        sent[percent] = len(shadow.seen)
    assert sent[0] == 0 and sent[100] == 100
    # the router draws from its seeded generator: the same count every run, and a count
    # binomial(100, 0.3) gives outside 15..45 once in about 1,400 seeds
    assert 15 <= sent[30] <= 45


@pytest.mark.parametrize(("shadow", "error"), [
    (FakeShadow(status=500), "HTTP 500"),
    (FakeShadow(timeout=True), "timeout: read timed out"),
])
def test_a_failing_shadow_is_logged_and_never_reaches_the_client(apps, tmp_path, shadow, error):
    path = tmp_path / "shadow.jsonl"
    router = in_process_router({"blue": apps["blue"]}, MIRROR, transports={"green": shadow},
                               shadow_log=str(path))

    async def scenario(client):
        return [await client.post("/predict", json=rows(1)) for _ in range(5)]

    answers = run(router, scenario)
    assert [a.status_code for a in answers] == [200] * 5
    assert {a.json()["predictions"][0] for a in answers} == {0}
    records = read_log(path)
    assert [r.error for r in records] == [error] * 5
    assert all(r.shadow.predictions is None and r.primary.predictions == [0] for r in records)


def test_the_queue_stays_bounded_and_every_copy_is_logged_or_counted_dropped(apps, tmp_path):
    path = tmp_path / "shadow.jsonl"
    router = in_process_router({"blue": apps["blue"]}, MIRROR,
                               transports={"green": FakeShadow(timeout=True, delay=0.05)},
                               shadow_log=str(path), shadow_queue_size=3, shadow_workers=1)

    async def scenario(client):
        await asyncio.gather(*(client.post("/predict", json=rows(1)) for _ in range(30)))
        return router.shadow._queue.qsize()

    waiting = run(router, scenario)
    dropped = router.metrics.registry.get_sample_value(
        "router_shadow_requests_total", {"version": "green", "outcome": "dropped"})
    logged = len(read_log(path))
    assert waiting <= 3
    assert dropped > 0 and logged + dropped == 30


@pytest.mark.parametrize("value", [5, "", "{folder}", "{folder}/missing/shadow.jsonl"])
def test_a_shadow_log_that_cannot_be_a_file_is_refused_with_the_reason(tmp_path, value):
    routes = tmp_path / "routes.yaml"
    log = value.format(folder=tmp_path) if isinstance(value, str) else value
    routes.write_text(yaml.safe_dump({
        "backends": {"blue": "http://127.0.0.1:1", "green": "http://127.0.0.1:2"},
        "table": MIRROR.to_dict(), "settings": {"shadow_log": log}}), encoding="utf-8")
    with pytest.raises(UserInputError, match="shadow_log must be a file path in an existing"):
        load_routes(routes)
