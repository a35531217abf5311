"""Models, rows and in-process router set-ups shared by the serving tests."""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable, Mapping
from contextlib import AsyncExitStack
from dataclasses import replace
from pathlib import Path
from typing import Any, TypeVar

import httpx
from sklearn.dummy import DummyClassifier

from mlcicd_course import datasets, modelstore, training
from mlcicd_course.serving.app import create_app
from mlcicd_course.serving.router import Router
from mlcicd_course.serving.routing import RoutingTable
from mlcicd_course.serving.settings import RouterSettings, ServerSettings
from mlcicd_course.serving.upstream import HttpxUpstream

TOKEN = "test-token-0123456789"
T = TypeVar("T")


def rows(n: int = 5, seed: int = 3) -> list[dict[str, Any]]:
    """`n` feature rows of the running example, as /predict takes them."""
    frame = datasets.sample(n, seed=seed).drop(columns=[datasets.TARGET])
    return frame.to_dict("records")


def save_pipeline_model(path: Path) -> Path:
    """The course's real pipeline (logistic regression), trained on 300 rows."""
    config = replace(training.default_config(), cv_folds=2)
    training.train(datasets.sample(300, seed=3), config).save(path)
    return path


def save_fast_model(path: Path, answer: int = 1) -> Path:
    """A model that always answers `answer`: microseconds per request, for load tests."""
    model = DummyClassifier(strategy="constant", constant=answer).fit([[0], [1]], [0, 1])
    features = {"target": datasets.TARGET, "numeric": list(datasets.NUMERIC_FEATURES),
                "categorical": list(datasets.CATEGORICAL_FEATURES),
                "ignore": list(datasets.ID_COLUMNS)}
    modelstore.save_model(model, path, {"model_type": "dummy", "features": features,
                                        "classes": [0, 1]})
    return path


def fast_apps(folder: Path) -> dict[str, Any]:
    """Model-server apps `blue` (always answers 0) and `green` (always 1), models loaded."""
    made = {}
    for name, answer in (("blue", 0), ("green", 1)):
        path = save_fast_model(folder / f"{name}.joblib", answer)
        made[name] = create_app(ServerSettings(path), loaded=modelstore.load_model(path))
    return made


def in_process_router(apps: Mapping[str, Any], table: RoutingTable,
                      transports: Mapping[str, httpx.AsyncBaseTransport] | None = None,
                      **options: Any) -> Router:
    """A router whose backends are ASGI apps (or transports) in this process, no sockets."""
    by_name = {name: httpx.ASGITransport(app) for name, app in apps.items()}
    by_name.update(transports or {})
    backends = {name: f"http://{name}" for name in by_name}
    upstream = HttpxUpstream(mounts={backends[name]: t for name, t in by_name.items()})
    return Router(RouterSettings(backends, table, **options), token=TOKEN, upstream=upstream)


def client_of(app: Any, host: str = "127.0.0.1") -> httpx.AsyncClient:
    """An httpx client that calls `app` in process, as if from `host`."""
    transport = httpx.ASGITransport(app, client=(host, 50000))
    return httpx.AsyncClient(transport=transport, base_url="http://router")


def admin_headers(token: str = TOKEN) -> dict[str, str]:
    return {"Authorization": f"Bearer {token}"}


def run_app(app: Any, scenario: Callable[[httpx.AsyncClient], Awaitable[T]], *,
            start: bool = True) -> T:
    """Run `await scenario(client)` against a FastAPI app in process.

    With `start`, the app's lifespan runs around it (the model is loaded), as uvicorn
    would run it.
    """
    async def main() -> T:
        async with AsyncExitStack() as stack:
            if start:
                await stack.enter_async_context(app.router.lifespan_context(app))
            client = await stack.enter_async_context(client_of(app))
            return await scenario(client)

    return asyncio.run(main())
