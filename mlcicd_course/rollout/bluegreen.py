"""Blue-green deployment as a pure state machine, in the shape of Argo Rollouts' blueGreen.

The new version (green, `spec.preview`) is deployed beside the one serving production
(blue, `spec.active`), and then::

    Deploying --ready--> PrePromotion --analysis passed--> Paused --promote--> PostPromotion
    (green starting)     (preview route,                  (approval, or     (all traffic on
                          no production                     automatic)        green, blue warm)
                          traffic)
    PrePromotion --analysis inconclusive--> Paused (no auto-promotion: a person decides)
    PostPromotion --analysis passed--> ScaleDownDelay --delay over--> Completed (blue retired)
    PostPromotion --failed / inconclusive / alarm / abort / deadline--> RolledBack
    ScaleDownDelay --alarm / abort--> RolledBack (instant: blue is still running)
    Deploying / PrePromotion / Paused --failed / deadline / abort--> Aborted (green never
                                                                      served production)

Where this differs from Argo: an inconclusive analysis after the switch switches back
instead of pausing (keeping production on a version nobody could judge is what
blue-green exists to avoid), and a promotion that would skip the pre-promotion
analysis is refused.

`RULES` is the whole decision table (action names of its rules: `preview`, green on
the preview route; `switch`, all traffic to green; `switch_back`, all traffic to blue;
`retire_green`; `retire_blue`): every (phase, event) pair it does not list is
refused, recorded in the history as not accepted, and changes nothing. `tick(state, now,
observations)` turns what was observed into events, applies them in a fixed order and
returns the new state and the actions to carry out; the old state is never changed.
Time comes in as `now` (seconds); nothing here sleeps or reads a clock.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, replace
from enum import StrEnum
from typing import Any

from mlcicd_course.rollout.actions import (
    Action,
    Record,
    Rule,
    ScaleDown,
    SetPreview,
    SetWeights,
    decide,
)
from mlcicd_course.rollout.analysis import AnalysisPhase, AnalysisRun, AnalysisSpec
from mlcicd_course.rollout.observations import Observations


class BlueGreenPhase(StrEnum):
    """Where a blue-green rollout is."""

    DEPLOYING = "Deploying"
    PRE_PROMOTION = "PrePromotion"
    PAUSED = "Paused"
    POST_PROMOTION = "PostPromotion"
    SCALE_DOWN_DELAY = "ScaleDownDelay"
    COMPLETED = "Completed"
    ABORTED = "Aborted"
    ROLLED_BACK = "RolledBack"

    @property
    def terminal(self) -> bool:
        """True once the rollout has ended (no event changes it any more)."""
        return self in (BlueGreenPhase.COMPLETED, BlueGreenPhase.ABORTED,
                        BlueGreenPhase.ROLLED_BACK)


class Event(StrEnum):
    """What can happen to a rollout. `tick` derives them from observations and time."""

    READY = "ready"                                  # green passes its readiness check
    ANALYSIS_SUCCESSFUL = "analysis_successful"      # the running analysis ended Successful
    ANALYSIS_INCONCLUSIVE = "analysis_inconclusive"  # ... ended Inconclusive
    ANALYSIS_FAILED = "analysis_failed"              # ... ended Failed or Error
    PROMOTE = "promote"                              # approved, or auto-promotion time came
    ABORT = "abort"                                  # a person (or the target) aborts
    ALARM = "alarm"                                  # a production alarm is in ALARM
    DEADLINE = "deadline"                            # the current phase's time is up


_P = BlueGreenPhase
_E = Event
_BACK = ("switch_back", "retire_green")

RULES: Mapping[tuple[BlueGreenPhase, Event], Rule] = {
    (_P.DEPLOYING, _E.READY): Rule(
        _P.PRE_PROMOTION, ("preview",),
        "green is ready: on the preview route, no production traffic; pre-promotion analysis"),
    (_P.DEPLOYING, _E.ABORT): Rule(_P.ABORTED, ("retire_green",), "aborted before the switch"),
    (_P.DEPLOYING, _E.DEADLINE): Rule(
        _P.ABORTED, ("retire_green",), "green not ready within the progress deadline"),
    (_P.PRE_PROMOTION, _E.ANALYSIS_SUCCESSFUL): Rule(
        _P.PAUSED, (), "pre-promotion analysis passed; waiting for promotion"),
    (_P.PRE_PROMOTION, _E.ANALYSIS_INCONCLUSIVE): Rule(
        _P.PAUSED, (), "pre-promotion analysis inconclusive; a person decides"),
    (_P.PRE_PROMOTION, _E.ANALYSIS_FAILED): Rule(
        _P.ABORTED, ("retire_green",),
        "pre-promotion analysis failed; green never served production traffic"),
    (_P.PRE_PROMOTION, _E.ABORT): Rule(_P.ABORTED, ("retire_green",), "aborted before the switch"),
    (_P.PRE_PROMOTION, _E.DEADLINE): Rule(
        _P.ABORTED, ("retire_green",),
        "pre-promotion analysis did not finish within the progress deadline"),
    (_P.PAUSED, _E.PROMOTE): Rule(
        _P.POST_PROMOTION, ("switch",),
        "switched all traffic to green; blue kept warm; post-promotion analysis"),
    (_P.PAUSED, _E.ABORT): Rule(_P.ABORTED, ("retire_green",), "aborted before the switch"),
    (_P.POST_PROMOTION, _E.ANALYSIS_SUCCESSFUL): Rule(
        _P.SCALE_DOWN_DELAY, (),
        "post-promotion analysis passed; green is stable, blue kept for the scale-down delay"),
    (_P.POST_PROMOTION, _E.ANALYSIS_INCONCLUSIVE): Rule(
        _P.ROLLED_BACK, _BACK,
        "post-promotion analysis inconclusive: switched back to blue (unproven green is "
        "not kept on production)"),
    (_P.POST_PROMOTION, _E.ANALYSIS_FAILED): Rule(
        _P.ROLLED_BACK, _BACK, "post-promotion analysis failed: switched back to blue"),
    (_P.POST_PROMOTION, _E.ALARM): Rule(
        _P.ROLLED_BACK, _BACK, "alarm during the bake time: switched back to blue"),
    (_P.POST_PROMOTION, _E.ABORT): Rule(_P.ROLLED_BACK, _BACK, "aborted: switched back to blue"),
    (_P.POST_PROMOTION, _E.DEADLINE): Rule(
        _P.ROLLED_BACK, _BACK,
        "post-promotion analysis did not finish within the progress deadline: switched back"),
    (_P.SCALE_DOWN_DELAY, _E.ALARM): Rule(
        _P.ROLLED_BACK, _BACK, "alarm while blue is still warm: switched back instantly"),
    (_P.SCALE_DOWN_DELAY, _E.ABORT): Rule(
        _P.ROLLED_BACK, _BACK, "aborted while blue is still warm: switched back instantly"),
    (_P.SCALE_DOWN_DELAY, _E.DEADLINE): Rule(
        _P.COMPLETED, ("retire_blue",), "scale-down delay over: blue retired"),
}
"""The decision table. A pair that is not here is refused (see `refusal`)."""

_REFUSALS: Mapping[tuple[BlueGreenPhase, Event], str] = {
    (_P.PRE_PROMOTION, _E.PROMOTE): "pre-promotion analysis has not finished",
    (_P.DEPLOYING, _E.PROMOTE): "green is not ready yet",
    (_P.POST_PROMOTION, _E.PROMOTE): "already switched; post-promotion analysis is running",
    (_P.SCALE_DOWN_DELAY, _E.PROMOTE): "already promoted",
    (_P.COMPLETED, _E.ABORT): "blue is retired; going back now means deploying it again",
}


def refusal(phase: BlueGreenPhase, event: Event) -> str:
    """Why `event` is refused in `phase` (only meaningful for pairs not in `RULES`)."""
    if (phase, event) in _REFUSALS:
        return _REFUSALS[phase, event]
    if phase.terminal:
        return f"the rollout has ended ({phase})"
    if event is Event.ALARM:
        return "green serves no production traffic yet; the alarm is not about it"
    return f"{event} has no meaning in {phase}"


@dataclass(frozen=True)
class BlueGreenSpec:
    """Configuration of a blue-green rollout (Argo's field in brackets).

    - `active` / `preview`: the version serving production and the new one
      (`activeService` / `previewService`);
    - `pre_promotion` / `post_promotion`: analyses before and after the switch; every
      metric needs a finite count (`prePromotionAnalysis` / `postPromotionAnalysis`);
    - `auto_promotion_seconds`: promote this long after pre-promotion passed; None
      waits for a person (`autoPromotionEnabled: false`, `autoPromotionSeconds`);
    - `scale_down_delay_s`: how long blue stays up after green is stable, so a
      rollback stays instant (`scaleDownDelaySeconds`, default 30);
    - `progress_deadline_s`: the longest a phase may take (Paused excepted) before the
      rollout gives up (`progressDeadlineSeconds` with `progressDeadlineAbort`).
    """

    active: str = "blue"
    preview: str = "green"
    pre_promotion: AnalysisSpec = AnalysisSpec()
    post_promotion: AnalysisSpec = AnalysisSpec()
    auto_promotion_seconds: float | None = 0.0
    scale_down_delay_s: float = 30.0
    progress_deadline_s: float = 600.0

    def __post_init__(self) -> None:
        if self.active == self.preview:
            raise ValueError(f"active and preview must differ, both are {self.active!r}")
        for label, analysis in (("pre_promotion", self.pre_promotion),
                                ("post_promotion", self.post_promotion)):
            for m in analysis.metrics:
                if m.effective_count() is None:
                    raise ValueError(f"{label} metric {m.name!r} never ends: give it a count")
        numbers = {"scale_down_delay_s": self.scale_down_delay_s,
                   "progress_deadline_s": self.progress_deadline_s,
                   "auto_promotion_seconds": self.auto_promotion_seconds or 0.0}
        for name, value in numbers.items():
            if value < 0:
                raise ValueError(f"{name} must be >= 0, got {value}")

    def to_dict(self) -> dict[str, Any]:
        """Plain data for JSON."""
        return {"active": self.active, "preview": self.preview,
                "pre_promotion": self.pre_promotion.to_dict(),
                "post_promotion": self.post_promotion.to_dict(),
                "auto_promotion_seconds": self.auto_promotion_seconds,
                "scale_down_delay_s": self.scale_down_delay_s,
                "progress_deadline_s": self.progress_deadline_s}


@dataclass(frozen=True)
class BlueGreenState:
    """Everything a blue-green rollout remembers. Never changed: each step returns a new one.

    `runs` holds every analysis run started so far; while the phase is PrePromotion or
    PostPromotion, the last one is the analysis in progress.
    """

    phase: BlueGreenPhase
    entered_at: float
    runs: tuple[AnalysisRun, ...] = ()
    promote_at: float | None = None
    history: tuple[Record, ...] = ()

    @property
    def analysis(self) -> AnalysisRun | None:
        """The analysis in progress, if the phase has one."""
        if self.phase in (BlueGreenPhase.PRE_PROMOTION, BlueGreenPhase.POST_PROMOTION):
            return self.runs[-1] if self.runs else None
        return None

    def to_dict(self) -> dict[str, Any]:
        """Plain data for JSON."""
        return {"phase": str(self.phase), "entered_at": self.entered_at,
                "promote_at": self.promote_at, "runs": [r.to_dict() for r in self.runs],
                "history": [r.to_dict() for r in self.history]}


class BlueGreenRollout:
    """The blue-green decisions for one `BlueGreenSpec`: `start`, `step`, `tick`.

    Stateless apart from the spec: the state travels in and out of every call.
    """

    def __init__(self, spec: BlueGreenSpec) -> None:
        self.spec = spec

    def start(self, now: float) -> BlueGreenState:
        """The state right after green was deployed beside blue."""
        record = Record(now, None, BlueGreenPhase.DEPLOYING, None,
                        f"{self.spec.preview} deployed beside {self.spec.active}")
        return BlueGreenState(BlueGreenPhase.DEPLOYING, entered_at=now, history=(record,))

    def step(self, state: BlueGreenState, event: Event, now: float,
             detail: str = "") -> tuple[BlueGreenState, tuple[Action, ...]]:
        """Apply one event by the decision table; a refused event is recorded, nothing else."""
        rule, record = decide(RULES, refusal, state.phase, event, now, detail)
        if rule is None:
            return replace(state, history=(*state.history, record)), ()
        runs = state.runs
        if rule.to is BlueGreenPhase.PRE_PROMOTION:
            runs = (*runs, AnalysisRun(self.spec.pre_promotion, self.spec.preview, now))
        elif rule.to is BlueGreenPhase.POST_PROMOTION:
            runs = (*runs, AnalysisRun(self.spec.post_promotion, self.spec.preview, now))
        auto = self.spec.auto_promotion_seconds
        promote_at = (now + auto if event is Event.ANALYSIS_SUCCESSFUL
                      and rule.to is BlueGreenPhase.PAUSED and auto is not None else None)
        new = BlueGreenState(rule.to, entered_at=now, runs=runs, promote_at=promote_at,
                             history=(*state.history, record))
        return new, tuple(self._action(name) for name in rule.actions)

    def abort(self, state: BlueGreenState, now: float,
              detail: str) -> tuple[BlueGreenState, tuple[Action, ...]]:
        """Abort at `now` (before the switch: retire green; after it: back to blue)."""
        return self.step(state, Event.ABORT, now, detail)

    def _action(self, name: str) -> Action:
        blue, green = self.spec.active, self.spec.preview
        return {"preview": SetPreview(green),
                "switch": SetWeights({blue: 0, green: 100}),
                "switch_back": SetWeights({blue: 100, green: 0}),
                "retire_green": ScaleDown(green),
                "retire_blue": ScaleDown(blue)}[name]

    def deadline(self, state: BlueGreenState) -> float | None:
        """When the current phase's time is up (None: Paused and terminal phases wait)."""
        if state.phase is BlueGreenPhase.SCALE_DOWN_DELAY:
            return state.entered_at + self.spec.scale_down_delay_s
        if state.phase in (BlueGreenPhase.DEPLOYING, BlueGreenPhase.PRE_PROMOTION,
                           BlueGreenPhase.POST_PROMOTION):
            return state.entered_at + self.spec.progress_deadline_s
        return None

    def tick(self, state: BlueGreenState, now: float,
             obs: Observations) -> tuple[BlueGreenState, tuple[Action, ...]]:
        """Everything that happens at `now` given `obs`: the new state and the actions.

        Events are offered in this order, each to the phase reached so far: abort,
        alarm, green ready, the analysis outcome (after taking the measurements that are
        due), promote (approval, or auto-promotion time), deadline. So a pre-promotion
        analysis that passes and an approval in the same tick switch at once, and an
        abort always comes first.
        """
        actions: list[Action] = []

        def apply(event: Event, detail: str) -> None:
            nonlocal state
            state, done = self.step(state, event, now, detail)
            actions.extend(done)

        if obs.abort:
            apply(Event.ABORT, "requested")
        if obs.alarms:
            apply(Event.ALARM, "in ALARM: " + ", ".join(sorted(obs.alarms)))
        if state.phase is BlueGreenPhase.DEPLOYING and obs.ready.get(self.spec.preview):
            apply(Event.READY, f"{self.spec.preview} ready")
        run = state.analysis
        if run is not None:
            run = run.take(now, obs)
            state = replace(state, runs=(*state.runs[:-1], run))
            phase, reason = run.assess()
            if phase.completed:
                apply(_ANALYSIS_EVENTS[phase], f"{phase}: {reason}")
        if obs.approve:
            apply(Event.PROMOTE, "approved")
        elif (state.phase is BlueGreenPhase.PAUSED and state.promote_at is not None
              and now >= state.promote_at):
            apply(Event.PROMOTE, "auto-promotion")
        deadline = self.deadline(state)
        if deadline is not None and now >= deadline:
            apply(Event.DEADLINE, f"due at {deadline:g} s")
        return state, tuple(actions)

    def next_wakeup(self, state: BlueGreenState) -> float | None:
        """The next time anything can happen without new observations (None: only events).

        A loop can sleep (or a simulation jump) until then; `tick` earlier is harmless.
        """
        times = [self.deadline(state), state.promote_at if state.phase is
                 BlueGreenPhase.PAUSED else None]
        if state.analysis is not None:
            times.append(state.analysis.next_wakeup())
        return min((t for t in times if t is not None), default=None)


_ANALYSIS_EVENTS: Mapping[AnalysisPhase, Event] = {
    AnalysisPhase.SUCCESSFUL: Event.ANALYSIS_SUCCESSFUL,
    AnalysisPhase.INCONCLUSIVE: Event.ANALYSIS_INCONCLUSIVE,
    AnalysisPhase.FAILED: Event.ANALYSIS_FAILED,
    AnalysisPhase.ERROR: Event.ANALYSIS_FAILED,
}
