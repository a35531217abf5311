"""The ALB on moto (in-process `mock_aws`): switch, rollback, validation, alarm rollback.

Clients are created inside the mock, with fake credentials, and every assertion reads
the state back through the API (`describe_listeners`, `describe_alarms`).
"""

from __future__ import annotations

import boto3
import pytest
from botocore.exceptions import ClientError
from moto import mock_aws

from mlcicd_course.cloud.alarms import AlarmSpec, alarms_in_alarm, put_alarm, target_5xx_alarm
from mlcicd_course.cloud.elb import ElbTrafficShifter, create_demo_alb, forward, to_percent
from mlcicd_course.rollout.actions import SetPreview
from mlcicd_course.rollout.analysis import AnalysisSpec, Condition, MetricSpec
from mlcicd_course.rollout.bluegreen import BlueGreenPhase, BlueGreenRollout, BlueGreenSpec
from mlcicd_course.rollout.canary import CanaryPhase, CanaryRollout, CanarySpec, step_weights
from mlcicd_course.rollout.clock import FakeClock
from mlcicd_course.rollout.controller import RolloutController
from mlcicd_course.rollout.observations import Observations, VersionMetrics
from mlcicd_course.rollout.shifter import TrafficShifter, TrafficShiftError

REGION = "us-east-1"


@pytest.fixture(scope="module")
def aws_module():
    """One `mock_aws` for the module (moto's ec2 takes seconds to load): fake credentials,
    none of the caller's AWS settings, clients made inside the mock, and a demo ALB."""
    with pytest.MonkeyPatch.context() as env:
        for name in ("AWS_PROFILE", "AWS_DEFAULT_PROFILE", "AWS_ENDPOINT_URL", "AWS_CONFIG_FILE",
                     "AWS_SHARED_CREDENTIALS_FILE", "AWS_ROLE_ARN",
                     "AWS_WEB_IDENTITY_TOKEN_FILE"):
            env.delenv(name, raising=False)
        for name in ("AWS_ACCESS_KEY_ID", "AWS_SECRET_ACCESS_KEY", "AWS_SECURITY_TOKEN",
                     "AWS_SESSION_TOKEN"):
            env.setenv(name, "testing")
        env.setenv("AWS_DEFAULT_REGION", REGION)
        with mock_aws():
            session = boto3.session.Session(region_name=REGION)
            ec2, elbv2, cw = (session.client(s) for s in ("ec2", "elbv2", "cloudwatch"))
            yield ec2, elbv2, cw, create_demo_alb(ec2, elbv2)


@pytest.fixture
def aws(aws_module):
    """The shared ALB with all traffic on blue again, and no alarms."""
    _, elbv2, cw, alb = aws_module
    elbv2.modify_listener(ListenerArn=alb.listener_arn,
                          DefaultActions=forward(alb.target_groups, {"blue": 100, "green": 0}))
    elbv2.modify_listener(ListenerArn=alb.preview_listener_arn, DefaultActions=[
        {"Type": "forward", "TargetGroupArn": alb.target_groups["green"]}])
    names = [a["AlarmName"] for a in cw.describe_alarms()["MetricAlarms"]]
    if names:
        cw.delete_alarms(AlarmNames=names)
    return aws_module


def listener_weights(elbv2, listener_arn, target_groups) -> dict[str, int]:
    """The weights as AWS reports them, by version (independent of the shifter)."""
    names = {arn: name for name, arn in target_groups.items()}
    action = elbv2.describe_listeners(ListenerArns=[listener_arn])["Listeners"][0]
    return {names[g["TargetGroupArn"]]: g["Weight"]
            for g in action["DefaultActions"][0]["ForwardConfig"]["TargetGroups"]}


def test_demo_alb_has_production_and_preview_listeners(aws):
    _, elbv2, _, alb = aws
    assert listener_weights(elbv2, alb.listener_arn, alb.target_groups) == {
        "blue": 100, "green": 0}
    preview = elbv2.describe_listeners(ListenerArns=[alb.preview_listener_arn])["Listeners"][0]
    assert preview["Port"] == 8080
    assert preview["DefaultActions"][0]["TargetGroupArn"] == alb.target_groups["green"]
    lb = elbv2.describe_load_balancers(LoadBalancerArns=[alb.load_balancer_arn])
    assert lb["LoadBalancers"][0]["VpcId"] == alb.vpc_id and len(alb.subnet_ids) == 2
    assert alb.to_dict()["target_groups"] == dict(alb.target_groups)


def test_switch_and_rollback_show_in_describe_listeners(aws):
    _, elbv2, _, alb = aws
    shifter = ElbTrafficShifter(elbv2, alb.listener_arn, alb.target_groups,
                                health=lambda version: True)
    assert isinstance(shifter, TrafficShifter)
    shifter.set_weights({"blue": 0, "green": 100})
    assert listener_weights(elbv2, alb.listener_arn, alb.target_groups) == {
        "blue": 0, "green": 100}
    shifter.set_alb_weights({"blue": 900, "green": 99})
    assert shifter.weights() == {"blue": 90, "green": 10}
    shifter.rollback()
    assert listener_weights(elbv2, alb.listener_arn, alb.target_groups) == {
        "blue": 0, "green": 100}
    shifter.rollback()
    assert listener_weights(elbv2, alb.listener_arn, alb.target_groups) == {
        "blue": 100, "green": 0}
    with pytest.raises(TrafficShiftError, match="nothing to roll back"):
        shifter.rollback()


def test_a_plain_forward_to_one_target_group_reads_as_all_traffic(aws):
    _, elbv2, _, alb = aws
    elbv2.modify_listener(ListenerArn=alb.listener_arn, DefaultActions=[
        {"Type": "forward", "TargetGroupArn": alb.target_groups["green"]}])
    shifter = ElbTrafficShifter(elbv2, alb.listener_arn, alb.target_groups)
    assert shifter.weights() == {"blue": 0, "green": 100}
    with pytest.raises(TrafficShiftError, match="unmanaged target group"):
        ElbTrafficShifter(elbv2, alb.listener_arn, {"blue": alb.target_groups["blue"]}).weights()


def test_preview_listener_follows_set_preview(aws):
    _, elbv2, _, alb = aws
    shifter = ElbTrafficShifter(elbv2, alb.listener_arn, alb.target_groups,
                                health=lambda version: True,
                                preview_listener_arn=alb.preview_listener_arn)
    shifter.set_preview("blue")
    found = elbv2.describe_listeners(ListenerArns=[alb.preview_listener_arn])["Listeners"][0]
    assert found["DefaultActions"][0]["TargetGroupArn"] == alb.target_groups["blue"]
    assert shifter.weights() == {"blue": 100, "green": 0}          # production untouched
    with pytest.raises(TrafficShiftError, match="no preview listener"):
        ElbTrafficShifter(elbv2, alb.listener_arn, alb.target_groups).set_preview("green")


@pytest.mark.parametrize(("alb_weights", "message"), [
    ({"blue": 1000, "green": 0}, "0..999, got 1000"),      # moto itself accepts 5000
    ({"blue": -1, "green": 1}, "0..999, got -1"),
    ({"blue": 1.5, "green": 1}, "0..999"),
    ({"blue": 0, "green": 0}, "forward nowhere"),
    ({"red": 1}, "unknown version 'red'"),
])
def test_weights_moto_would_accept_are_refused_and_nothing_changes(aws, alb_weights, message):
    _, elbv2, _, alb = aws
    shifter = ElbTrafficShifter(elbv2, alb.listener_arn, alb.target_groups,
                                health=lambda version: True)
    with pytest.raises(TrafficShiftError, match=message):
        shifter.set_alb_weights(alb_weights)
    assert listener_weights(elbv2, alb.listener_arn, alb.target_groups) == {
        "blue": 100, "green": 0}


def test_moto_accepts_a_missing_target_group_in_modify_listener_so_we_check(aws):
    _, elbv2, _, alb = aws
    ghost = alb.target_groups["green"][:-4] + "0000"
    elbv2.modify_listener(ListenerArn=alb.listener_arn, DefaultActions=forward(
        {"blue": alb.target_groups["blue"], "green": ghost}, {"blue": 1, "green": 5000}))
    stored = elbv2.describe_listeners(ListenerArns=[alb.listener_arn])["Listeners"][0]
    assert stored["DefaultActions"][0]["ForwardConfig"]["TargetGroups"][1] == {
        "TargetGroupArn": ghost, "Weight": 5000}          # AWS would refuse both
    elbv2.modify_listener(ListenerArn=alb.listener_arn,
                          DefaultActions=forward(alb.target_groups, {"blue": 100, "green": 0}))
    shifter = ElbTrafficShifter(elbv2, alb.listener_arn, {**alb.target_groups, "green": ghost},
                                health=lambda version: True)
    with pytest.raises(TrafficShiftError, match="TargetGroupNotFound"):
        shifter.set_weights({"blue": 0, "green": 100})


def test_target_group_in_another_vpc_is_refused(aws):
    ec2, elbv2, _, alb = aws
    other_vpc = ec2.create_vpc(CidrBlock="10.1.0.0/16")["Vpc"]["VpcId"]
    stray = elbv2.create_target_group(Name="stray", Protocol="HTTP", Port=8000,
                                      VpcId=other_vpc, TargetType="ip")["TargetGroups"][0]
    shifter = ElbTrafficShifter(elbv2, alb.listener_arn,
                                {**alb.target_groups, "green": stray["TargetGroupArn"]},
                                health=lambda version: True)
    with pytest.raises(TrafficShiftError, match="not in the load balancer's VPC"):
        shifter.set_weights({"blue": 0, "green": 100})


def test_health_comes_from_the_injected_checker_not_from_moto(aws):
    _, elbv2, _, alb = aws
    found = elbv2.describe_target_health(TargetGroupArn=alb.target_groups["green"])
    assert found["TargetHealthDescriptions"][0]["TargetHealth"]["State"] == "healthy"
    default = ElbTrafficShifter(elbv2, alb.listener_arn, alb.target_groups)
    assert default.health("green")               # moto says healthy, always
    shifter = ElbTrafficShifter(elbv2, alb.listener_arn, alb.target_groups,
                                health=lambda version: version != "green")
    with pytest.raises(TrafficShiftError, match="unhealthy green"):
        shifter.set_weights({"blue": 0, "green": 100})
    assert shifter.weights() == {"blue": 100, "green": 0}


@pytest.mark.parametrize(("call", "code"), [
    (lambda e, alb: e.describe_listeners(ListenerArns=[alb.listener_arn + "x"]),
     "ListenerNotFound"),
    (lambda e, alb: e.describe_target_groups(TargetGroupArns=[alb.target_groups["blue"] + "x"]),
     "TargetGroupNotFound"),
    (lambda e, alb: e.create_listener(
        LoadBalancerArn=alb.load_balancer_arn, Protocol="HTTP", Port=81,
        DefaultActions=[{"Type": "forward", "TargetGroupArn": alb.target_groups["blue"] + "x"}]),
     "TargetGroupNotFound"),
])
def test_bad_calls_give_client_error_codes(aws, call, code):
    _, elbv2, _, alb = aws
    with pytest.raises(ClientError) as caught:
        call(elbv2, alb)
    assert caught.value.response["Error"]["Code"] == code


def test_a_listener_that_does_not_exist_is_a_shift_error(aws):
    _, elbv2, _, alb = aws
    shifter = ElbTrafficShifter(elbv2, alb.listener_arn + "x", alb.target_groups,
                                health=lambda version: True)
    with pytest.raises(TrafficShiftError, match="ListenerNotFound"):
        shifter.weights()


@pytest.mark.parametrize(("alb", "percent"), [
    ({"a": 1, "b": 1, "c": 1}, {"a": 34, "b": 33, "c": 33}),
    ({"a": 999, "b": 1}, {"a": 100, "b": 0}),
    ({"a": 2, "b": 1}, {"a": 67, "b": 33}),
])
def test_alb_weights_to_percent_sum_to_100(alb, percent):
    assert to_percent(alb) == percent


def test_alarm_is_created_and_read_back_by_state(aws):
    _, elbv2, cw, alb = aws
    spec = target_5xx_alarm("green-5xx", alb.load_balancer_arn, alb.target_groups["green"])
    assert put_alarm(cw, spec) == "green-5xx"
    stored = cw.describe_alarms(AlarmNames=["green-5xx"])["MetricAlarms"][0]
    dims = {d["Name"]: d["Value"] for d in stored["Dimensions"]}
    assert dims["TargetGroup"].startswith("targetgroup/mlcicd-demo-green/")
    assert dims["LoadBalancer"].startswith("app/mlcicd-demo/")
    assert alarms_in_alarm(cw, ["green-5xx"]) == ()
    cw.set_alarm_state(AlarmName="green-5xx", StateValue="ALARM", StateReason="test")
    assert alarms_in_alarm(cw, ["green-5xx"]) == ("green-5xx",)
    with pytest.raises(LookupError, match="not found: nope"):
        alarms_in_alarm(cw, ["green-5xx", "nope"])
    with pytest.raises(ClientError) as caught:
        cw.set_alarm_state(AlarmName="nope", StateValue="ALARM", StateReason="test")
    assert caught.value.response["Error"]["Code"] == "ResourceNotFound"
    assert AlarmSpec("x", "m", "ns").to_dict()["Threshold"] == 0.0


POST = AnalysisSpec((MetricSpec("error-rate", "error_rate", success_condition=Condition(
    "<=", 0.01), interval_s=60, count=5, min_sample=50),))


def run_bluegreen_on_alb(aws, alarm_at: float | None):
    """Drive the blue-green controller against the ALB; return (controller, alb, elbv2)."""
    _, elbv2, cw, alb = aws
    put_alarm(cw, target_5xx_alarm("green-5xx", alb.load_balancer_arn,
                                   alb.target_groups["green"]))
    shifter = ElbTrafficShifter(elbv2, alb.listener_arn, alb.target_groups,
                                health=lambda version: True,
                                preview_listener_arn=alb.preview_listener_arn)
    previewed: list[str] = []

    def on_action(action):
        if isinstance(action, SetPreview):
            shifter.set_preview(action.version)
            previewed.append(action.version)

    controller = RolloutController(
        BlueGreenRollout(BlueGreenSpec(post_promotion=POST, scale_down_delay_s=120)), shifter,
        on_action=on_action)
    clock = FakeClock()
    controller.start(clock.now())
    healthy = {"green": VersionMetrics(500, 0, 5.0, 20.0)}
    controller.tick(clock.now(), Observations(ready={"green": True}))
    while not controller.state.phase.terminal and clock.now() < 1000:
        t = clock.advance(30)
        if alarm_at is not None and t >= alarm_at:
            cw.set_alarm_state(AlarmName="green-5xx", StateValue="ALARM", StateReason="5xx")
        controller.tick(t, Observations(metrics=healthy, alarms=alarms_in_alarm(cw, ["green-5xx"])))
    assert previewed == ["green"]
    return controller, alb, elbv2


def test_an_alarm_in_the_bake_time_switches_the_alb_back(aws):
    controller, alb, elbv2 = run_bluegreen_on_alb(aws, alarm_at=150)
    assert controller.state.phase is BlueGreenPhase.ROLLED_BACK
    assert listener_weights(elbv2, alb.listener_arn, alb.target_groups) == {
        "blue": 100, "green": 0}
    last = controller.history[-1]
    assert last.at == 150 and "green-5xx" in last.reason
    switches = [a.weights for a in controller.applied if a.action.to_dict()["action"] ==
                "set_weights"]
    assert switches == [{"blue": 0, "green": 100}, {"blue": 100, "green": 0}]


def test_without_an_alarm_the_alb_stays_on_green(aws):
    controller, alb, elbv2 = run_bluegreen_on_alb(aws, alarm_at=None)
    assert controller.state.phase is BlueGreenPhase.COMPLETED
    assert listener_weights(elbv2, alb.listener_arn, alb.target_groups) == {
        "blue": 0, "green": 100}


def run_canary_on_alb(aws, alarm_at: float | None):
    """Drive the canary controller against the ALB (blue stable, green canary); return the
    controller and the listener's ALB weights after every tick, as AWS reports them."""
    _, elbv2, cw, alb = aws
    put_alarm(cw, target_5xx_alarm("green-5xx", alb.load_balancer_arn,
                                   alb.target_groups["green"]))
    shifter = ElbTrafficShifter(elbv2, alb.listener_arn, alb.target_groups,
                                health=lambda version: True)
    spec = CanarySpec(stable="blue", canary="green", guardrail=None,
                      steps=step_weights([10, 25, 50], 60))
    controller = RolloutController(CanaryRollout(spec), shifter)
    clock = FakeClock()
    controller.start(clock.now())
    seen = []
    while not controller.state.phase.terminal and clock.now() < 600:
        if alarm_at is not None and clock.now() >= alarm_at:
            cw.set_alarm_state(AlarmName="green-5xx", StateValue="ALARM", StateReason="5xx")
        alarms = alarms_in_alarm(cw, ["green-5xx"])
        controller.tick(clock.advance(30), Observations(alarms=alarms))
        seen.append(listener_weights(elbv2, alb.listener_arn, alb.target_groups)["green"])
    return controller, seen


def test_a_canary_ramps_the_alb_weights_step_by_step(aws):
    controller, seen = run_canary_on_alb(aws, alarm_at=None)
    assert controller.state.phase is CanaryPhase.COMPLETED
    assert sorted(set(seen)) == [10, 25, 50, 100] and seen == sorted(seen)


def test_an_alarm_during_the_canary_sends_the_alb_back_to_stable(aws):
    controller, seen = run_canary_on_alb(aws, alarm_at=70)
    assert controller.state.phase is CanaryPhase.ABORTED
    # ticks at 30, 60, 90, 120: 10 % at 30, 25 % at 90; the alarm fires at 90 and is
    # read for the tick at 120, which sends all traffic back to blue
    assert seen == [10, 10, 25, 0]
    assert "green-5xx" in controller.history[-1].reason
