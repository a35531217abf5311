"""Blue-green on an AWS Application Load Balancer, through boto3's `elbv2` API.

Each version has a target group; the production listener forwards to both with
weights (`ForwardConfig.TargetGroups[].Weight`, integers 0-999), so a switch is one
`modify_listener` call and a rollback is another that restores the previous action.
A second listener is the preview route: it forwards only to the new version, so
testers reach it while production traffic does not.

The boto3 clients are passed in, never created here: tests hand in clients made
inside moto's `mock_aws`, a notebook hands in clients pointed at a local moto server,
and the same code runs against a real account with clients made from real
credentials. moto accepts what AWS would refuse in `modify_listener` (a weight of
5000, a target group that does not exist) and reports every target healthy, so this
module checks the weights and the target groups itself and takes health from an
injected checker.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from botocore.exceptions import ClientError

from mlcicd_course.rollout.shifter import TrafficShiftError, check_split

ALB_MAX_WEIGHT = 999
"""An ALB target-group weight is an integer from 0 to 999."""

HealthCheck = Callable[[str], bool]
"""Given a version name, whether it is healthy enough to receive traffic."""


@dataclass(frozen=True)
class DemoAlb:
    """What `create_demo_alb` made: the ids and ARNs a shifter and an alarm need."""

    vpc_id: str
    subnet_ids: tuple[str, ...]
    load_balancer_arn: str
    dns_name: str
    target_groups: Mapping[str, str]
    listener_arn: str
    preview_listener_arn: str

    def to_dict(self) -> dict[str, Any]:
        """Plain data for JSON."""
        return {"vpc_id": self.vpc_id, "subnet_ids": list(self.subnet_ids),
                "load_balancer_arn": self.load_balancer_arn, "dns_name": self.dns_name,
                "target_groups": dict(self.target_groups), "listener_arn": self.listener_arn,
                "preview_listener_arn": self.preview_listener_arn}


def forward(target_groups: Mapping[str, str], alb_weights: Mapping[str, int]) -> list[dict]:
    """The `DefaultActions` of a listener forwarding to versions with ALB weights."""
    return [{"Type": "forward", "ForwardConfig": {"TargetGroups": [
        {"TargetGroupArn": target_groups[name], "Weight": weight}
        for name, weight in alb_weights.items()]}}]


def create_demo_alb(ec2: Any, elbv2: Any, *, name: str = "mlcicd-demo", active: str = "blue",
                    preview: str = "green", port: int = 8000,
                    targets: Mapping[str, Sequence[str]] | None = None) -> DemoAlb:
    """Create a VPC, two subnets in two zones, an ALB, a target group per version, the
    production listener (port 80, all traffic to `active`) and the preview listener
    (port 8080, only `preview`).

    `targets` maps a version to the IP addresses of its servers (default: one each).
    """
    vpc_id = ec2.create_vpc(CidrBlock="10.0.0.0/16")["Vpc"]["VpcId"]
    zones = [z["ZoneName"] for z in ec2.describe_availability_zones()["AvailabilityZones"]][:2]
    subnets = tuple(ec2.create_subnet(VpcId=vpc_id, CidrBlock=f"10.0.{i}.0/24",
                                      AvailabilityZone=zone)["Subnet"]["SubnetId"]
                    for i, zone in enumerate(zones))
    lb = elbv2.create_load_balancer(Name=name, Subnets=list(subnets), Scheme="internal",
                                    Type="application")["LoadBalancers"][0]
    targets = targets or {active: ["10.0.0.10"], preview: ["10.0.1.10"]}
    groups: dict[str, str] = {}
    for version in (active, preview):
        arn = elbv2.create_target_group(
            Name=f"{name}-{version}", Protocol="HTTP", Port=port, VpcId=vpc_id,
            TargetType="ip", HealthCheckPath="/health/ready")["TargetGroups"][0]["TargetGroupArn"]
        elbv2.register_targets(TargetGroupArn=arn, Targets=[
            {"Id": ip, "Port": port} for ip in targets.get(version, ())])
        groups[version] = arn
    listener = elbv2.create_listener(
        LoadBalancerArn=lb["LoadBalancerArn"], Protocol="HTTP", Port=80,
        DefaultActions=forward(groups, {active: 100, preview: 0}))["Listeners"][0]
    preview_listener = elbv2.create_listener(
        LoadBalancerArn=lb["LoadBalancerArn"], Protocol="HTTP", Port=8080,
        DefaultActions=[{"Type": "forward", "TargetGroupArn": groups[preview]}])["Listeners"][0]
    return DemoAlb(vpc_id=vpc_id, subnet_ids=subnets, load_balancer_arn=lb["LoadBalancerArn"],
                   dns_name=lb["DNSName"], target_groups=groups,
                   listener_arn=listener["ListenerArn"],
                   preview_listener_arn=preview_listener["ListenerArn"])


def to_percent(alb_weights: Mapping[str, int]) -> dict[str, int]:
    """ALB weights (0-999, any total) as integer percent summing to 100.

    Largest remainder: each share is rounded down, and the points still missing go to
    the largest remainders (ties to the name that sorts first).
    """
    total = sum(alb_weights.values())
    if total <= 0:
        raise TrafficShiftError("every weight is 0: the listener forwards nowhere")
    exact = {name: 100 * w / total for name, w in alb_weights.items()}
    percent = {name: int(x) for name, x in exact.items()}
    missing = 100 - sum(percent.values())
    for name in sorted(exact, key=lambda n: (percent[n] - exact[n], n))[:missing]:
        percent[name] += 1
    return percent


def target_health(elbv2: Any, target_groups: Mapping[str, str]) -> HealthCheck:
    """A health check from `describe_target_health`: at least one target, all `healthy`.

    Meaningful on AWS; moto answers `healthy` for every registered target, so tests and
    notebooks inject their own check instead.
    """
    def healthy(version: str) -> bool:
        found = elbv2.describe_target_health(TargetGroupArn=target_groups[version])
        states = [d["TargetHealth"]["State"] for d in found["TargetHealthDescriptions"]]
        return bool(states) and all(s == "healthy" for s in states)
    return healthy


class ElbTrafficShifter:
    """A `TrafficShifter` on an ALB listener with one weighted target group per version.

    `set_weights` takes percent (0-100, sum 100) and writes them as ALB weights;
    `set_alb_weights` takes ALB weights (0-999) directly. Both refuse, before calling
    `modify_listener`, weights out of range, unknown versions, target groups that do
    not exist or sit in another VPC than the listener's load balancer, and traffic to
    a version that `health` reports unhealthy. `rollback()` restores the listener's
    action from before the last change. With `preview_listener_arn`, `set_preview`
    points that listener at one version.
    """

    def __init__(self, elbv2: Any, listener_arn: str, target_groups: Mapping[str, str], *,
                 health: HealthCheck | None = None,
                 preview_listener_arn: str | None = None) -> None:
        self.elbv2 = elbv2
        self.listener_arn = listener_arn
        self.preview_listener_arn = preview_listener_arn
        self.target_groups = dict(target_groups)
        self.health = health or target_health(elbv2, self.target_groups)
        self._previous: list[list[dict]] = []

    def _listener(self) -> dict:
        try:
            return self.elbv2.describe_listeners(ListenerArns=[self.listener_arn])["Listeners"][0]
        except ClientError as err:
            raise TrafficShiftError(f"listener {self.listener_arn}: "
                                    f"{err.response['Error']['Code']}") from err

    def alb_weights(self) -> dict[str, int]:
        """The listener's current ALB weight per version (a single target group counts 1)."""
        by_arn = {arn: name for name, arn in self.target_groups.items()}
        action = self._listener()["DefaultActions"][0]
        if "ForwardConfig" in action:
            pairs = [(g["TargetGroupArn"], g.get("Weight", 1))
                     for g in action["ForwardConfig"]["TargetGroups"]]
        else:
            pairs = [(action["TargetGroupArn"], 1)]
        unknown = [arn for arn, _ in pairs if arn not in by_arn]
        if unknown:
            raise TrafficShiftError(f"the listener forwards to unmanaged target group(s) {unknown}")
        return {by_arn[arn]: weight for arn, weight in pairs}

    def weights(self) -> dict[str, int]:
        """The current split in percent (see `to_percent`); every managed version is listed."""
        percent = to_percent(self.alb_weights())
        return {name: percent.get(name, 0) for name in self.target_groups}

    def set_weights(self, weights: Mapping[str, int]) -> None:
        """Switch to a split given in percent; versions left out get weight 0."""
        split = check_split(weights, known=self.target_groups)
        self.set_alb_weights({name: split.get(name, 0) for name in self.target_groups})

    def set_alb_weights(self, alb_weights: Mapping[str, int]) -> None:
        """Switch to ALB weights (0-999 each, not all 0) after checking everything moto does not."""
        for name, weight in alb_weights.items():
            if name not in self.target_groups:
                raise TrafficShiftError(f"unknown version {name!r}; known: "
                                        f"{', '.join(sorted(self.target_groups))}")
            if isinstance(weight, bool) or not isinstance(weight, int) \
                    or not 0 <= weight <= ALB_MAX_WEIGHT:
                raise TrafficShiftError(f"ALB weight of {name!r} must be an integer in "
                                        f"0..{ALB_MAX_WEIGHT}, got {weight!r}")
        if not any(alb_weights.values()):
            raise TrafficShiftError("every weight is 0: the listener would forward nowhere")
        self.check_target_groups(alb_weights)
        sick = sorted(n for n, w in alb_weights.items() if w > 0 and not self.health(n))
        if sick:
            raise TrafficShiftError(f"refusing to send traffic to unhealthy {', '.join(sick)}")
        before = self._listener()["DefaultActions"]
        self.elbv2.modify_listener(ListenerArn=self.listener_arn,
                                   DefaultActions=forward(self.target_groups, alb_weights))
        self._previous.append(before)

    def check_target_groups(self, versions: Sequence[str] | Mapping[str, int]) -> None:
        """Raise `TrafficShiftError` unless every version's target group exists in the VPC of
        the listener's load balancer."""
        arns = [self.target_groups[v] for v in versions]
        lb_arn = self._listener()["LoadBalancerArn"]
        vpc = self.elbv2.describe_load_balancers(
            LoadBalancerArns=[lb_arn])["LoadBalancers"][0]["VpcId"]
        try:
            found = self.elbv2.describe_target_groups(TargetGroupArns=arns)["TargetGroups"]
        except ClientError as err:
            raise TrafficShiftError(f"target group(s) of {', '.join(versions)}: "
                                    f"{err.response['Error']['Code']}") from err
        elsewhere = sorted(g["TargetGroupName"] for g in found if g["VpcId"] != vpc)
        if elsewhere:
            raise TrafficShiftError(f"target group(s) {', '.join(elsewhere)} are not in the "
                                    f"load balancer's VPC {vpc}")

    def set_preview(self, version: str) -> None:
        """Point the preview listener at `version` only (for a controller's `SetPreview`)."""
        if self.preview_listener_arn is None:
            raise TrafficShiftError("no preview listener was given to this shifter")
        self.check_target_groups([version])
        self.elbv2.modify_listener(ListenerArn=self.preview_listener_arn, DefaultActions=[
            {"Type": "forward", "TargetGroupArn": self.target_groups[version]}])

    def rollback(self) -> None:
        """Restore the listener's action from before the last `set_weights`/`set_alb_weights`."""
        if not self._previous:
            raise TrafficShiftError("nothing to roll back: no change was made through this shifter")
        self.elbv2.modify_listener(ListenerArn=self.listener_arn,
                                   DefaultActions=self._previous[-1])
        self._previous.pop()
