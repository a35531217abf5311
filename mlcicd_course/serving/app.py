"""The model server: one model version per process, over HTTP (FastAPI under uvicorn).

Endpoints::

    POST /predict        a JSON list of rows (objects: column -> value), at most
                         `max_batch_rows` (1000) rows -> {"version", "predictions",
                         "probabilities"} (one list per row, in the order of the
                         model's classes; left out for a model without predict_proba)
    GET  /health/live    200 while the process answers
    GET  /health/ready   200 once the model is loaded and verified, else 503
    GET  /version        version name, model sha256, features, classes, knobs
    GET  /metrics        Prometheus text: requests, errors, latency, predictions

Every response to /predict carries the `X-Model-Version` header. A bad body gets a
4xx answer whose `detail` says what is wrong and where (`row 3, column tenure_months:
expected a number, got 'abc'`); the server keeps serving. The model is loaded through
`modelstore.load_model`, which checks the file's sha256 before unpickling it.
"""

from __future__ import annotations

import asyncio
import json
import math
import time
from collections.abc import AsyncIterator, Sequence
from concurrent.futures import ThreadPoolExecutor
from contextlib import asynccontextmanager
from dataclasses import dataclass, field
from typing import Any

import numpy as np
import pandas as pd
from fastapi import FastAPI, Request
from fastapi.responses import JSONResponse, Response

from mlcicd_course import modelstore
from mlcicd_course.errors import UserInputError
from mlcicd_course.serving.metrics import CONTENT_TYPE, ServerMetrics, render
from mlcicd_course.serving.settings import MAX_BODY_BYTES, ServerSettings
from mlcicd_course.training import FeatureSpec

VERSION_HEADER = "X-Model-Version"
# Batches up to this many rows are scored on the event loop itself: they take well under
# a millisecond, less than handing them to the prediction thread and back (a GIL
# handover each way). Larger batches go to the thread, so health checks still answer.
INLINE_ROWS = 32


class BadBatch(Exception):
    """A /predict body that cannot be scored; `status` is the HTTP status to answer."""

    def __init__(self, status: int, detail: str) -> None:
        super().__init__(detail)
        self.status = status
        self.detail = detail


def parse_rows(body: bytes, schema: FeatureSpec, max_rows: int) -> pd.DataFrame:
    """Check a /predict body against the model's columns; return the rows as a DataFrame.

    Raises `BadBatch`: 400 for a body that is not JSON, 422 for a body that is not a
    non-empty list of row objects or a row with a missing, unknown or mistyped column
    (numbers must be JSON numbers, categories strings; null means missing), 413 for a
    batch over `max_rows` rows. Rows are counted from 0.
    """
    try:
        rows = json.loads(body)
    except (UnicodeDecodeError, json.JSONDecodeError) as err:
        raise BadBatch(400, f"body is not valid JSON ({err})") from None
    if not isinstance(rows, list):
        raise BadBatch(422, "body must be a JSON list of rows, e.g. [{\"column\": value}]")
    if not rows:
        raise BadBatch(422, "empty batch: send at least one row")
    if len(rows) > max_rows:
        raise BadBatch(413, f"batch of {len(rows)} rows is over the limit of {max_rows} rows")
    known = {*schema.features, *schema.ignore, schema.target}
    for index, row in enumerate(rows):
        _check_row(index, row, schema, known)
    columns: dict[str, Any] = {
        name: np.array([np.nan if row[name] is None else row[name] for row in rows], dtype=float)
        for name in schema.numeric}
    columns.update({name: np.array([row[name] for row in rows], dtype=object)
                    for name in schema.categorical})
    return pd.DataFrame(columns, copy=False)


def _check_row(index: int, row: Any, schema: FeatureSpec, known: set[str]) -> None:
    if not isinstance(row, dict):
        raise BadBatch(422, f"row {index}: expected an object of column -> value, "
                            f"got {type(row).__name__}")
    for name in schema.features:
        if name not in row:
            raise BadBatch(422, f"row {index}: missing column {name}")
    for name in row:
        if name not in known:
            raise BadBatch(422, f"row {index}: unknown column {name}")
    for name in schema.numeric:
        value = row[name]
        if value is not None and (isinstance(value, bool) or not isinstance(value, int | float)):
            raise BadBatch(422, f"row {index}, column {name}: expected a number, got {value!r}")
        if isinstance(value, float) and not math.isfinite(value):
            raise BadBatch(422, f"row {index}, column {name}: expected a finite number")
    for name in schema.categorical:
        value = row[name]
        if value is not None and not isinstance(value, str):
            raise BadBatch(422, f"row {index}, column {name}: expected a string, got {value!r}")


@dataclass
class ServerState:
    """What the endpoints share: settings, the loaded model, metrics, the knobs' RNGs."""

    settings: ServerSettings
    metrics: ServerMetrics = field(default_factory=ServerMetrics)
    loaded: modelstore.LoadedModel | None = None
    schema: FeatureSpec | None = None
    error_rng: np.random.Generator = field(default_factory=np.random.default_rng)
    flip_rng: np.random.Generator = field(default_factory=np.random.default_rng)
    _executor: ThreadPoolExecutor | None = None

    @property
    def executor(self) -> ThreadPoolExecutor:
        """Large batches run in one worker thread, one at a time: the event loop stays
        free to answer health checks while the model computes."""
        if self._executor is None:
            self._executor = ThreadPoolExecutor(1, thread_name_prefix="predict")
        return self._executor

    def close(self) -> None:
        """Stop the prediction thread (a new one starts if the app is started again)."""
        if self._executor is not None:
            self._executor.shutdown(wait=False, cancel_futures=True)
            self._executor = None

    def use(self, loaded: modelstore.LoadedModel) -> None:
        """Serve `loaded` from now on."""
        try:
            self.schema = FeatureSpec.from_dict(loaded.metadata["features"])
        except (KeyError, TypeError, AttributeError):
            raise UserInputError(
                f"model metadata of {loaded.path} does not list the model's features "
                "(save models with `mlcicd train`)") from None
        self.loaded = loaded


def create_app(settings: ServerSettings, *, loaded: modelstore.LoadedModel | None = None,
               ) -> FastAPI:
    """A FastAPI app serving one model version.

    The model is loaded (and its sha256 verified) when the app starts, unless a
    `loaded` model is given (the CLI loads it first, to refuse a bad file before
    starting anything). Until then /health/ready answers 503.
    """
    state = ServerState(settings, error_rng=np.random.default_rng([settings.seed, 1]),
                        flip_rng=np.random.default_rng([settings.seed, 2]))
    if loaded is not None:
        state.use(loaded)

    @asynccontextmanager
    async def lifespan(app: FastAPI) -> AsyncIterator[None]:
        if state.loaded is None:
            state.use(await asyncio.to_thread(
                modelstore.load_model, settings.model_path,
                expected_sha256=settings.expected_sha256))
        try:
            yield
        finally:
            state.close()

    app = FastAPI(title=f"model server {settings.version}", lifespan=lifespan,
                  docs_url=None, redoc_url=None, openapi_url=None)
    app.state.server = state
    app.add_api_route("/predict", predict, methods=["POST"])
    app.add_api_route("/health/live", live, methods=["GET"])
    app.add_api_route("/health/ready", ready, methods=["GET"])
    app.add_api_route("/version", version, methods=["GET"])
    app.add_api_route("/metrics", metrics, methods=["GET"])
    return app


def _state(request: Request) -> ServerState:
    return request.app.state.server


async def predict(request: Request) -> Response:
    """Score a batch of rows; count the request, its latency and the predicted classes."""
    state = _state(request)
    settings, metrics = state.settings, state.metrics
    started = time.perf_counter()
    status, content = 200, None
    try:
        if state.loaded is None or state.schema is None:
            status, content = 503, {"detail": "model not loaded yet"}
        else:
            body = await request.body()
            if len(body) > MAX_BODY_BYTES:
                raise BadBatch(413, f"body of {len(body)} bytes is over {MAX_BODY_BYTES} bytes")
            frame = parse_rows(body, state.schema, settings.max_batch_rows)
            if settings.added_latency_ms:
                await asyncio.sleep(settings.added_latency_ms / 1000)
            if settings.error_rate and state.error_rng.random() < settings.error_rate:
                metrics.errors.labels(settings.version, "injected").inc()
                status, content = 500, {"detail": "injected error (error_rate knob)"}
            else:
                if len(frame) <= INLINE_ROWS:
                    predictions, probabilities = _predict(state, frame)
                else:
                    predictions, probabilities = await asyncio.get_running_loop(
                    ).run_in_executor(state.executor, _predict, state, frame)
                for label, count in zip(*np.unique(predictions.astype(str), return_counts=True),
                                        strict=True):
                    metrics.predictions.labels(settings.version, label).inc(int(count))
                content = {"version": settings.version, "predictions": predictions.tolist()}
                if probabilities is not None:
                    content["probabilities"] = probabilities.round(6).tolist()
    except BadBatch as err:
        metrics.errors.labels(settings.version, "invalid_input").inc()
        status, content = err.status, {"detail": err.detail}
    except Exception as err:  # noqa: BLE001 - a model failure must not kill the server
        metrics.errors.labels(settings.version, "internal").inc()
        status, content = 500, {"detail": f"prediction failed: {type(err).__name__}: {err}"}
    metrics.requests.labels(settings.version, str(status)).inc()
    metrics.latency.labels(settings.version).observe(time.perf_counter() - started)
    return JSONResponse(content, status_code=status, headers={VERSION_HEADER: settings.version})


def _predict(state: ServerState, frame: pd.DataFrame) -> tuple[np.ndarray, np.ndarray | None]:
    """The model's predictions, with a share flipped to another class (flip_rate knob),
    and its class probabilities (None when the model has no predict_proba).

    A classifier with probabilities predicts its most probable class, as scikit-learn's
    classifiers do: one pass through the model gives both.
    """
    assert state.loaded is not None
    model = state.loaded.model
    probabilities = None
    if hasattr(model, "predict_proba") and hasattr(model, "classes_"):
        probabilities = np.asarray(model.predict_proba(frame), dtype=float)
        predictions = np.asarray(model.classes_)[probabilities.argmax(axis=1)]
    else:
        predictions = np.asarray(model.predict(frame))
    rate = state.settings.flip_rate
    classes: Sequence[Any] = state.loaded.metadata.get("classes") or []
    if rate and len(classes) > 1:
        flip = state.flip_rng.random(len(predictions)) < rate
        positions = {str(c): i for i, c in enumerate(classes)}
        for row in np.flatnonzero(flip):
            current = positions.get(str(predictions[row]), 0)
            predictions[row] = classes[(current + 1) % len(classes)]
    return predictions, probabilities


async def live(request: Request) -> dict[str, str]:
    """The process is up and answering."""
    return {"status": "live", "version": _state(request).settings.version}


async def ready(request: Request) -> Response:
    """200 once the model is loaded and verified; 503 before."""
    state = _state(request)
    if state.loaded is None:
        return JSONResponse({"status": "not ready", "detail": "model not loaded yet"},
                            status_code=503)
    return JSONResponse({"status": "ready", "version": state.settings.version})


async def version(request: Request) -> Response:
    """What this server serves: version, model file and sha256, features, knobs."""
    state = _state(request)
    if state.loaded is None or state.schema is None:
        return JSONResponse({"detail": "model not loaded yet"}, status_code=503)
    meta = state.loaded.metadata
    return JSONResponse({
        "version": state.settings.version,
        "model_file": state.loaded.path.name,
        "sha256": state.loaded.sha256,
        "model_type": meta.get("model_type"),
        "numeric_features": list(state.schema.numeric),
        "categorical_features": list(state.schema.categorical),
        "classes": meta.get("classes"),
        "max_batch_rows": state.settings.max_batch_rows,
        "knobs": state.settings.knobs,
    })


async def metrics(request: Request) -> Response:
    """Prometheus text of this server's registry."""
    return Response(render(_state(request).metrics.registry), media_type=CONTENT_TYPE)
