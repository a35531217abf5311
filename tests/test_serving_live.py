"""Real processes on real sockets: switches under load, RouterAdmin, lifecycle, the CLI."""

from __future__ import annotations

import json
import socket
import subprocess
import sys
import textwrap
import time
import urllib.request

import pandas as pd
import pytest

from mlcicd_course.cli import main
from mlcicd_course.serving.admin_client import AdminError, RouterAdmin
from mlcicd_course.serving.lifecycle import ServerError, model_servers, router
from mlcicd_course.serving.loadgen import run_load, summarize, throughput
from tests.serving_support import rows, save_fast_model


@pytest.fixture(scope="module")
def servers(tmp_path_factory):
    folder = tmp_path_factory.mktemp("live")
    models = {name: save_fast_model(folder / f"{name}.joblib", answer)
              for name, answer in (("blue", 0), ("green", 1))}
    with model_servers(models) as started:
        yield started


@pytest.fixture(scope="module")
def backends(servers):
    return {name: server.url for name, server in servers.items()}


@pytest.fixture(scope="module")
def live_router(backends):
    with router(backends, {"blue": 100, "green": 0}) as started:
        yield started


def refused(port: int) -> bool:
    """Nothing listens on 127.0.0.1:port any more."""
    with socket.socket() as sock:
        sock.settimeout(2)
        return sock.connect_ex(("127.0.0.1", port)) != 0


def test_no_request_fails_during_a_switch_and_a_rollback_under_load(live_router):
    admin = live_router.admin()
    result = run_load(
        live_router.url + "/predict", [rows(1)], requests=600, duration_s=60, concurrency=8,
        unit_ids=[f"user-{i}" for i in range(300)],
        actions={200: ("switch to green", lambda: admin.set_weights({"blue": 0, "green": 100})),
                 400: ("roll back", admin.undo)})
    frame = result.requests
    assert len(frame) == 600, "the load ended early: raise duration_s"
    assert result.failed == 0, frame[frame["status"] != 200].head().to_dict("records")
    served = frame["version"].value_counts().to_dict()
    assert set(served) == {"blue", "green"}
    assert list(result.events["action"]) == ["switch to green", "roll back"]
    switch, rollback = result.events.to_dict("records")
    t_end = frame["t_start"] + frame["latency_ms"] / 1000
    # Answered before the switch began: blue; sent after it and answered before the
    # rollback began: green; sent after the rollback: blue again.
    assert set(frame.loc[t_end < switch["t"], "version"]) == {"blue"}
    between = (frame["t_start"] > switch["t_done"]) & (t_end < rollback["t"])
    assert set(frame.loc[between, "version"]) <= {"green"}
    assert set(frame.loc[frame["t_start"] > rollback["t_done"], "version"]) == {"blue"}
    assert admin.weights() == {"blue": 100, "green": 0}
    summary = result.summary()
    assert summary["green"]["requests"] == served["green"] and summary["green"]["errors"] == 0


def test_load_is_bounded_by_time_as_well_as_by_count(live_router):
    result = run_load(live_router.url + "/predict", [rows(1)], requests=10**9, duration_s=0.5,
                      concurrency=2)
    assert 0 < len(result.requests) < 10**9
    assert result.duration_s < 5
    assert list(result.requests.columns) == ["request", "t_start", "status", "latency_ms",
                                             "version", "unit_id", "error"]


def test_router_admin_drives_the_live_router(live_router, backends):
    admin = live_router.admin()
    assert admin.weights() == {"blue": 100, "green": 0}
    admin.set_weights({"blue": 90, "green": 10})
    assert admin.table() == {"mode": "weighted", "weights": {"blue": 90, "green": 10},
                             "seed": "router"}
    assert admin.promote("green")["stable"] == "green"
    assert admin.undo()["table"]["weights"] == {"blue": 90, "green": 10}
    assert admin.abort()["table"]["weights"] == {"blue": 0, "green": 100}
    assert admin.promote("blue")["table"]["weights"] == {"blue": 100, "green": 0}
    with pytest.raises(AdminError, match="unknown backend 'red'") as refused_change:
        admin.set_weights({"blue": 50, "red": 50})
    assert refused_change.value.status == 400
    with pytest.raises(AdminError) as wrong_token:
        RouterAdmin(live_router.url, "not-the-token").set_weights({"blue": 0, "green": 100})
    assert wrong_token.value.status == 401
    assert admin.weights() == {"blue": 100, "green": 0}
    assert set(admin.state()["backends"]) == set(backends)


def test_a_shadow_gets_copies_over_real_sockets(live_router):
    admin = live_router.admin()
    admin.set_table({"weights": {"blue": 100}, "mode": "mirror", "shadow": "green"})
    try:
        result = run_load(live_router.url + "/predict", [rows(2)], requests=40, concurrency=4)
        expected = 'router_shadow_requests_total{outcome="ok",version="green"} 40.0'
        deadline = time.monotonic() + 10
        while expected not in (metrics := _read(live_router.url + "/router/metrics")) \
                and time.monotonic() < deadline:
            time.sleep(0.05)
    finally:
        admin.undo()
    assert result.failed == 0 and set(result.requests["version"]) == {"blue"}
    assert expected in metrics


def _read(url: str) -> str:
    opener = urllib.request.build_opener(urllib.request.ProxyHandler({}))
    with opener.open(url, timeout=5) as response:
        return response.read().decode()


def test_nothing_is_left_behind_after_an_exception_in_the_with_block(backends):
    # KeyboardInterrupt is what an interrupted notebook cell raises; it is not even an
    # Exception (a BaseException), so it also proves `except Exception` is not relied on.
    with pytest.raises(KeyboardInterrupt):
        with router(backends, {"blue": 100, "green": 0}) as started:
            process, port = started.process, started.port
            assert not refused(port)
            raise KeyboardInterrupt
    assert process.poll() is not None
    assert refused(port)


def test_nothing_is_left_behind_after_a_normal_exit(backends):
    with router(backends, {"green": 0, "blue": 100}) as started:
        process, port, log = started.process, started.port, started.log_path
        # The order of the weights (the order of the bucket ranges) reached the router.
        assert list(started.admin().weights()) == ["green", "blue"]
    assert process.returncode == 0
    assert refused(port) and not log.exists()


def test_a_server_dies_with_the_process_that_started_it(backends, tmp_path):
    parent = textwrap.dedent(f"""
        import time
        from mlcicd_course.serving.lifecycle import router
        with router({backends!r}, {{"blue": 100, "green": 0}}) as started:
            print(started.port, flush=True)
            time.sleep(120)
    """)
    process = subprocess.Popen([sys.executable, "-c", parent], stdout=subprocess.PIPE,
                               text=True)
    try:
        port = int(process.stdout.readline())
        assert not refused(port)
    finally:
        process.kill()  # no clean-up code runs in the parent
        process.wait()
        process.stdout.close()
    deadline = time.monotonic() + 20
    while not refused(port) and time.monotonic() < deadline:
        time.sleep(0.1)
    assert refused(port)


def test_a_server_that_cannot_start_is_reported_with_its_error(backends):
    table = {"weights": {"blue": 50, "red": 50}, "mode": "weighted"}
    with pytest.raises(ServerError, match="exited with code 2: .*unknown backend 'red'"):
        with router(backends, table):
            pass


def test_cli_refuses_a_tampered_model_and_a_bad_routes_file(tmp_path, capsys):
    tampered = save_fast_model(tmp_path / "m.joblib")
    tampered.write_bytes(tampered.read_bytes() + b"!")
    assert main(["serve", str(tampered), "--port", "0"]) == 2
    out, err = capsys.readouterr()
    assert out == "" and len(err.strip().splitlines()) == 1
    assert "does not match the sha256" in err
    routes = tmp_path / "routes.yaml"
    routes.write_text("backends: {blue: 'http://127.0.0.1:1'}\n"
                      "table: {weights: {blue: 60, green: 40}, mode: weighted}\n")
    assert main(["route", "--config", str(routes), "--port", "0"]) == 2
    out, err = capsys.readouterr()
    assert out == "" and err.strip().splitlines() == [
        f"mlcicd route: error: routes file {routes}: table: unknown backend 'green'; "
        "known: blue"]
    routes.write_text("backends: [oops\n")
    assert main(["route", "--config", str(routes)]) == 2
    assert "error: routes file is not valid YAML" in capsys.readouterr().err


def test_cli_refuses_a_port_in_use(tmp_path, capsys):
    routes = tmp_path / "routes.yaml"
    routes.write_text("backends: {blue: 'http://127.0.0.1:1'}\ntable: {weights: {blue: 100}}\n")
    with socket.socket() as taken:
        taken.bind(("127.0.0.1", 0))
        taken.listen()
        port = taken.getsockname()[1]
        assert main(["route", "--config", str(routes), "--port", str(port)]) == 2
    assert f"cannot listen on 127.0.0.1:{port}" in capsys.readouterr().err


def test_summarize_groups_by_version_within_a_window():
    frame = pd.DataFrame({
        "request": range(6), "t_start": [0.0, 0.5, 1.0, 1.5, 2.0, 2.5],
        "status": [200, 200, 500, 200, 0, 200],
        "latency_ms": [1.0, 3.0, 5.0, 7.0, 9.0, 11.0],
        "version": ["blue", "blue", "green", "green", "", "green"],
        "unit_id": [""] * 6, "error": ["", "", "", "", "refused", ""]})
    assert summarize(frame, start=0.5, end=2.5) == {
        "": {"requests": 1, "errors": 1, "latency_p50_ms": 9.0, "latency_p99_ms": 9.0},
        "blue": {"requests": 1, "errors": 0, "latency_p50_ms": 3.0, "latency_p99_ms": 3.0},
        "green": {"requests": 2, "errors": 1, "latency_p50_ms": 6.0, "latency_p99_ms": 6.98},
    }
    assert json.loads(json.dumps(summarize(frame)))["green"]["requests"] == 3


def test_throughput_counts_requests_per_second_by_version():
    frame = pd.DataFrame({"t_start": [0.0, 0.1, 0.3, 0.6, 0.7, 0.74],
                          "version": ["blue", "blue", "blue", "green", "green", "blue"]})
    table = throughput(frame, bin_s=0.25)
    assert table.to_dict("index") == {0.0: {"blue": 8.0, "green": 0.0},
                                      0.25: {"blue": 4.0, "green": 0.0},
                                      0.5: {"blue": 4.0, "green": 8.0}}
