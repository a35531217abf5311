"""The model server: predictions, refused bodies, health, version, metrics, knobs."""

from __future__ import annotations

import json
import threading
from dataclasses import replace

import pandas as pd
import pytest

from mlcicd_course import modelstore
from mlcicd_course.errors import UserInputError
from mlcicd_course.serving.app import INLINE_ROWS, create_app
from mlcicd_course.serving.settings import ServerSettings
from tests.serving_support import rows, run_app, save_fast_model, save_pipeline_model


@pytest.fixture(scope="module")
def model_path(tmp_path_factory):
    return save_pipeline_model(tmp_path_factory.mktemp("model") / "blue.joblib")


@pytest.fixture(scope="module")
def app(model_path):
    loaded = modelstore.load_model(model_path)
    return create_app(ServerSettings(model_path, max_batch_rows=50), loaded=loaded)


def test_predict_answers_the_models_predictions_with_the_version(app, model_path):
    batch = rows(7)
    response = run_app(app, lambda client: client.post("/predict", json=batch))
    assert response.status_code == 200
    assert response.headers["X-Model-Version"] == "blue"
    model = modelstore.load_model(model_path).model
    expected = model.predict(pd.DataFrame(batch)).tolist()
    probabilities = model.predict_proba(pd.DataFrame(batch)).round(6).tolist()
    assert response.json() == {"version": "blue", "predictions": expected,
                               "probabilities": probabilities}


def test_missing_values_are_allowed_and_ids_are_ignored(app):
    row = {**rows(1)[0], "usage_hours": None, "contract": None, "customer_id": 7}
    response = run_app(app, lambda client: client.post("/predict", json=[row]))
    assert response.status_code == 200 and len(response.json()["predictions"]) == 1


@pytest.mark.parametrize(("body", "status", "message"), [
    (b"{not json", 400, "not valid JSON"),
    (b'{"rows": []}', 422, "JSON list of rows"),
    (b"[]", 422, "empty batch"),
    (b"[1]", 422, "row 0: expected an object"),
])
def test_malformed_bodies_get_a_4xx_with_a_message(app, body, status, message):
    response = run_app(app, lambda client: client.post("/predict", content=body))
    assert response.status_code == status
    assert message in response.json()["detail"]


def test_a_bad_row_is_named_with_its_column(app):
    good = rows(1)[0]
    bad_rows = [
        ({**good, "tenure_months": "twelve"},
         "row 2, column tenure_months: expected a number, got 'twelve'"),
        ({k: v for k, v in good.items() if k != "region"}, "row 2: missing column region"),
        ({**good, "shoe_size": 44}, "row 2: unknown column shoe_size"),
        ({**good, "region": 3}, "row 2, column region: expected a string, got 3"),
        ({**good, "support_calls": True}, "row 2, column support_calls: expected a number, "
                                          "got True"),
        ({**good, "usage_hours": float("inf")}, "row 2, column usage_hours: expected a finite "
                                                "number"),
    ]

    async def scenario(client):
        answers = []
        for bad, _ in bad_rows:
            # json.dumps writes inf as Infinity, which Python's JSON reader accepts.
            response = await client.post("/predict", content=json.dumps([good, good, bad]))
            answers.append((response.status_code, response.json()["detail"]))
        return answers

    assert run_app(app, scenario) == [(422, message) for _, message in bad_rows]


def test_a_batch_over_the_limit_is_refused_and_the_server_keeps_serving(app):
    async def scenario(client):
        return (await client.post("/predict", json=rows(1) * 51),
                await client.post("/predict", json=rows(2)))

    refused, served = run_app(app, scenario)
    assert refused.status_code == 413
    assert "51 rows is over the limit of 50" in refused.json()["detail"]
    assert served.status_code == 200


def test_health_version_and_metrics(model_path):
    app = create_app(ServerSettings(model_path))

    async def scenario(client):
        answers = [await client.get(path) for path in ("/health/live", "/health/ready",
                                                       "/version")]
        await client.post("/predict", json=rows(3))
        await client.post("/predict", content=b"[]")
        return answers, (await client.get("/metrics")).text

    (live, ready, version), metrics = run_app(app, scenario)
    assert live.json()["status"] == "live" and ready.status_code == 200
    assert version.json()["version"] == "blue"
    assert version.json()["sha256"] == modelstore.sha256_file(model_path)
    assert version.json()["knobs"] == {}
    assert 'model_requests_total{status="200",version="blue"} 1.0' in metrics
    assert 'model_requests_total{status="422",version="blue"} 1.0' in metrics
    assert 'model_errors_total{kind="invalid_input",version="blue"} 1.0' in metrics
    assert 'model_request_latency_seconds_count{version="blue"} 2.0' in metrics
    assert 'model_predictions_total{predicted_class="0",version="blue"}' in metrics


class ThreadRecorder:
    """A model that notes the batch size and the thread of each prediction."""

    def __init__(self, model):
        self.model, self.calls = model, []

    def predict(self, frame):
        self.calls.append((len(frame), threading.current_thread().name))
        return self.model.predict(frame)


def test_small_batches_are_scored_on_the_loop_and_large_ones_in_the_prediction_thread(
        model_path):
    loaded = modelstore.load_model(model_path)
    recorder = ThreadRecorder(loaded.model)
    app = create_app(ServerSettings(model_path), loaded=replace(loaded, model=recorder))

    async def scenario(client):
        for size in (1, INLINE_ROWS, INLINE_ROWS + 1):
            assert (await client.post("/predict", json=rows(size))).status_code == 200
        return threading.current_thread().name

    loop_thread = run_app(app, scenario)
    sizes, threads = zip(*recorder.calls, strict=True)
    assert sizes == (1, INLINE_ROWS, INLINE_ROWS + 1)
    assert threads[:2] == (loop_thread, loop_thread)
    assert threads[2] != loop_thread and threads[2].startswith("predict")


def test_not_ready_until_the_model_is_loaded(model_path):
    app = create_app(ServerSettings(model_path))  # start-up not run: no model yet

    async def scenario(client):
        return [(await client.get("/health/live")).status_code,
                (await client.get("/health/ready")).status_code,
                (await client.post("/predict", json=rows(1))).status_code]

    assert run_app(app, scenario, start=False) == [200, 503, 503]


def test_a_tampered_model_is_refused_at_start(model_path, tmp_path):
    tampered = tmp_path / "m.joblib"
    tampered.write_bytes(model_path.read_bytes() + b"x")
    (tmp_path / "m.joblib.meta.json").write_text(
        (model_path.parent / "blue.joblib.meta.json").read_text())
    with pytest.raises(UserInputError, match="does not match the sha256"):
        run_app(create_app(ServerSettings(tampered)), lambda client: client.get("/"))


def test_knobs_inject_errors_and_flip_predictions_repeatably(tmp_path):
    path = save_fast_model(tmp_path / "zero.joblib", answer=0)  # always predicts 0
    loaded = modelstore.load_model(path)

    def run(**knobs):
        app = create_app(ServerSettings(path, version="green", seed=5, **knobs), loaded=loaded)

        async def scenario(client):
            answers = [await client.post("/predict", json=rows(20)) for _ in range(10)]
            return answers, (await client.get("/version")).json()["knobs"]

        return run_app(app, scenario)

    failing, knobs = run(error_rate=0.5)
    assert knobs == {"error_rate": 0.5}
    statuses = [r.status_code for r in failing]
    assert set(statuses) == {200, 500}
    assert statuses == [r.status_code for r in run(error_rate=0.5)[0]]  # same seed, same draws
    flipped, _ = run(flip_rate=0.3)
    predictions = [p for answer in flipped for p in answer.json()["predictions"]]
    assert 0.15 < predictions.count(1) / len(predictions) < 0.45  # flipped from 0 to 1
    assert [p for a in run()[0] for p in a.json()["predictions"]] == [0] * len(predictions)


@pytest.mark.parametrize(("knob", "value"), [("error_rate", 1.5), ("flip_rate", -0.1),
                                             ("added_latency_ms", float("nan")),
                                             ("max_batch_rows", 0)])
def test_settings_refuse_out_of_range_knobs(model_path, knob, value):
    with pytest.raises(UserInputError, match=knob):
        ServerSettings(model_path, **{knob: value})


def test_added_latency_delays_answers(model_path):
    app = create_app(ServerSettings(model_path, added_latency_ms=150))

    async def scenario(client):
        status = (await client.post("/predict", json=rows(1))).status_code
        return status, (await client.get("/metrics")).text

    status, metrics = run_app(app, scenario)
    assert status == 200
    # The one request took more than 0.1 s: the 0.1 s bucket holds nothing.
    assert 'model_request_latency_seconds_bucket{le="0.1",version="blue"} 0.0' in metrics
    assert 'model_request_latency_seconds_count{version="blue"} 1.0' in metrics


def test_a_model_without_its_feature_list_is_refused(tmp_path):
    from sklearn.dummy import DummyClassifier

    path = tmp_path / "bare.joblib"
    modelstore.save_model(DummyClassifier().fit([[0], [1]], [0, 1]), path, {})
    with pytest.raises(UserInputError, match="does not list the model's features"):
        create_app(ServerSettings(path), loaded=modelstore.load_model(path))
