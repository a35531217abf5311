"""boto3 over real HTTP: moto's server on 127.0.0.1 and a free port, always stopped."""

from __future__ import annotations

import socket

import pytest

from mlcicd_course.cloud.alarms import alarms_in_alarm, put_alarm, target_5xx_alarm
from mlcicd_course.cloud.local import AwsTarget, local_aws


@pytest.fixture
def no_aws_environment(monkeypatch):
    """None of the caller's AWS settings (moto's server itself reads AWS_PROFILE)."""
    for name in ("AWS_PROFILE", "AWS_DEFAULT_PROFILE", "AWS_ENDPOINT_URL", "AWS_ACCESS_KEY_ID",
                 "AWS_SECRET_ACCESS_KEY", "AWS_SESSION_TOKEN", "AWS_CONFIG_FILE",
                 "AWS_SHARED_CREDENTIALS_FILE"):
        monkeypatch.delenv(name, raising=False)


def test_local_server_serves_boto3_over_http_and_is_stopped(no_aws_environment):
    # CloudWatch only: moto's ec2 (which an ALB needs) takes seconds to import, and the
    # ALB calls are the same boto3 calls as in test_cloud_elb.py.
    with local_aws() as target:
        host, port = target.endpoint_url.removeprefix("http://").split(":")
        assert host == "127.0.0.1" and int(port) > 0
        cw = target.client("cloudwatch")
        assert cw.meta.endpoint_url == target.endpoint_url
        spec = target_5xx_alarm("green-5xx", "arn:aws:elasticloadbalancing:us-east-1:"
                                "123456789012:loadbalancer/app/demo/1",
                                "arn:aws:elasticloadbalancing:us-east-1:123456789012:"
                                "targetgroup/green/2")
        put_alarm(cw, spec)
        assert alarms_in_alarm(cw, ["green-5xx"]) == ()
        cw.set_alarm_state(AlarmName="green-5xx", StateValue="ALARM", StateReason="test")
        assert alarms_in_alarm(cw, ["green-5xx"]) == ("green-5xx",)
    with pytest.raises(OSError), socket.create_connection((host, int(port)), timeout=2):
        pass
    assert target.to_dict() == {"region": "us-east-1", "endpoint_url": target.endpoint_url,
                                "profile": None, "fake_credentials": True}


def test_the_server_is_stopped_after_an_error_too(no_aws_environment):
    with pytest.raises(RuntimeError, match="boom"), local_aws() as target:
        port = int(target.endpoint_url.rsplit(":", 1)[1])
        raise RuntimeError("boom")
    with pytest.raises(OSError), socket.create_connection(("127.0.0.1", port), timeout=2):
        pass


def test_fake_credentials_ignore_the_callers_profile_and_keys(monkeypatch):
    monkeypatch.setenv("AWS_PROFILE", "no-such-profile")
    monkeypatch.setenv("AWS_ACCESS_KEY_ID", "AKIAREALLOOKING")
    target = AwsTarget(region="eu-west-1", endpoint_url="http://127.0.0.1:9",
                       fake_credentials=True)
    creds = target.session().get_credentials()
    assert (creds.access_key, creds.secret_key) == ("testing", "testing")
    assert target.client("elbv2").meta.endpoint_url == "http://127.0.0.1:9"
    real = AwsTarget(region="eu-west-1", profile="ml-deploy")
    assert real.endpoint_url is None and not real.fake_credentials
