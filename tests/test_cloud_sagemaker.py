"""The SageMaker blue/green request, checked against botocore's service model (offline)."""

from __future__ import annotations

import copy

import botocore.session
import pytest

from mlcicd_course.cloud.sagemaker import BlueGreenGuardrails, _matches, check_request
from mlcicd_course.rollout.analysis import AnalysisSpec, Condition, MetricSpec
from mlcicd_course.rollout.bluegreen import BlueGreenSpec
from mlcicd_course.rollout.canary import CanarySpec, Pause, SetWeight, step_weights


@pytest.fixture(scope="module")
def model():
    """botocore's SageMaker model, loaded once for the module."""
    return botocore.session.get_session().get_service_model("sagemaker")


GUARDRAILS = BlueGreenGuardrails(endpoint_name="churn-model", endpoint_config_name="churn-v2",
                                 alarms=("churn-5xx", "churn-latency"), bake_s=600,
                                 termination_wait_s=300, max_execution_timeout_s=3600)


def test_the_request_is_valid_for_botocore_and_has_the_guardrails(model):
    request = GUARDRAILS.request()
    check = check_request(request, model=model)
    assert check.ok, check.problems
    policy = request["DeploymentConfig"]["BlueGreenUpdatePolicy"]
    assert policy["TrafficRoutingConfiguration"] == {"Type": "ALL_AT_ONCE",
                                                     "WaitIntervalInSeconds": 600}
    assert (policy["TerminationWaitInSeconds"], policy["MaximumExecutionTimeoutInSeconds"]) == (
        300, 3600)
    assert request["DeploymentConfig"]["AutoRollbackConfiguration"]["Alarms"] == [
        {"AlarmName": "churn-5xx"}, {"AlarmName": "churn-latency"}]
    assert check.to_dict()["ok"] is True


def broken(path: tuple, value=None, delete: bool = False) -> dict:
    request = copy.deepcopy(GUARDRAILS.request())
    node = request
    for key in path[:-1]:
        node = node[key]
    if delete:
        del node[path[-1]]
    else:
        node[path[-1]] = value
    return request


ROUTING = ("DeploymentConfig", "BlueGreenUpdatePolicy", "TrafficRoutingConfiguration")


@pytest.mark.parametrize(("request_", "words"), [
    (broken(("EndpointName",), delete=True), 'Missing required parameter in input: "EndpointName"'),
    (broken((*ROUTING, "WaitIntervalInSeconds"), "600"), "Invalid type for parameter"),
    (broken((*ROUTING, "WaitIntervalInSeconds"), -5), "valid min value: 0"),
    (broken(("DeploymentConfig", "BlueGreenUpdatePolicy", "MaximumExecutionTimeoutInSeconds"),
            300), "valid min value: 600"),
    (broken(("DeploymentConfig", "Bogus"), 1), 'Unknown parameter in DeploymentConfig: "Bogus"'),
    (broken(("DeploymentConfig", "AutoRollbackConfiguration", "Alarms"), []),
     "valid min length: 1"),
])
def test_botocore_validator_rejects_broken_requests(model, request_, words):
    check = check_request(request_, model=model)
    assert not check.ok
    assert any(words in p for p in check.botocore_problems), check.botocore_problems


@pytest.mark.parametrize(("request_", "words"), [
    (broken((*ROUTING, "Type"), "BLUE_GREEN"), "'BLUE_GREEN' is not one of ALL_AT_ONCE, CANARY"),
    (broken((*ROUTING, "WaitIntervalInSeconds"), 99_999), "99999 is above the maximum 3600"),
    (broken(("DeploymentConfig", "BlueGreenUpdatePolicy", "MaximumExecutionTimeoutInSeconds"),
            28_801), "above the maximum 28800"),
    (broken(("EndpointName",), "churn_model"), "does not match"),
    (broken(("DeploymentConfig", "AutoRollbackConfiguration", "Alarms"),
            [{"AlarmName": f"a{i}"} for i in range(11)]), "11 items, at most 10"),
])
def test_what_botocore_lets_through_is_caught_from_the_same_model(model, request_, words):
    check = check_request(request_, model=model)
    assert check.botocore_problems == ()           # botocore alone would send it
    assert not check.ok
    assert any(words in p for p in check.model_problems), check.model_problems


def test_guardrails_from_a_blue_green_spec(model):
    post = AnalysisSpec((MetricSpec("errors", "error_rate", success_condition=Condition(
        "<=", 0.01), interval_s=60, count=11, initial_delay_s=30),))
    spec = BlueGreenSpec(post_promotion=post, scale_down_delay_s=300, progress_deadline_s=1800)
    g = BlueGreenGuardrails.from_spec(spec, endpoint_name="m", endpoint_config_name="m-v2",
                                      alarms=["m-5xx"])
    assert (g.bake_s, g.termination_wait_s, g.max_execution_timeout_s) == (630, 300, 1800)
    assert check_request(g.request()).ok
    # Argo's default scale-down delay fits; its 600 s progress deadline is SageMaker's minimum
    too_short = BlueGreenGuardrails.from_spec(BlueGreenSpec(progress_deadline_s=120),
                                              endpoint_name="m", endpoint_config_name="m-v2",
                                              alarms=[])
    assert not check_request(too_short.request(), model=model).ok
    assert "AutoRollbackConfiguration" not in too_short.request()["DeploymentConfig"]


def test_a_pattern_python_cannot_read_is_not_held_against_the_request():
    # botocore's models use Java-style classes such as \p{L}, which Python's re lacks
    assert _matches(r"[\p{L}\p{N}]+", "anything")
    assert _matches("[a-z]+", "abc") and not _matches("[a-z]+", "ABC")


CANARY = CanarySpec(stable="v1", canary="v2", steps=step_weights([10, 20, 30, 40], 600),
                    progress_deadline_s=600)


@pytest.mark.parametrize(("routing", "size"), [("CANARY", "CanarySize"),
                                               ("LINEAR", "LinearStepSize")])
def test_canary_and_linear_requests_from_a_canary_spec_are_valid(model, routing, size):
    guardrails = BlueGreenGuardrails.from_canary(
        CANARY, routing=routing, endpoint_name="churn-model", endpoint_config_name="churn-v2",
        alarms=["churn-5xx"])
    request = guardrails.request()
    check = check_request(request, model=model)
    assert check.ok, check.problems
    routing_config = request["DeploymentConfig"]["BlueGreenUpdatePolicy"][
        "TrafficRoutingConfiguration"]
    assert routing_config == {"Type": routing, "WaitIntervalInSeconds": 600,
                              size: {"Type": "CAPACITY_PERCENT", "Value": 10}}
    assert request["DeploymentConfig"]["BlueGreenUpdatePolicy"][
        "MaximumExecutionTimeoutInSeconds"] == 600 + 4 * 600


def test_sagemaker_limits_are_read_from_the_model(model):
    # a bake of 3 h is more than SageMaker's WaitIntervalInSeconds allows (3600)
    slow = CanarySpec(stable="v1", canary="v2", steps=step_weights([10, 50], 3 * 3600))
    request = BlueGreenGuardrails.from_canary(
        slow, routing="CANARY", endpoint_name="e", endpoint_config_name="c", alarms=[]).request()
    problems = check_request(request, model=model).problems
    assert any("WaitIntervalInSeconds: 10800 is above the maximum 3600" in p for p in problems)


@pytest.mark.parametrize(("steps", "routing", "message"), [
    (step_weights([10, 25, 50], 60), "LINEAR", "equal steps"),
    ((SetWeight(10), Pause()), "CANARY", "timed pauses"),
    (step_weights([10], 60), "ALL_AT_ONCE", "CANARY or LINEAR"),
])
def test_a_canary_sagemaker_cannot_run_is_refused(steps, routing, message):
    with pytest.raises(ValueError, match=message):
        BlueGreenGuardrails.from_canary(CanarySpec(steps=steps), routing=routing,
                                        endpoint_name="e", endpoint_config_name="c", alarms=[])
