"""Canary release as a pure state machine, in the shape of Argo Rollouts' canary steps.

The new version (`spec.canary`) runs beside the one serving production (`spec.stable`)
and gets a growing share of the traffic, step by step::

    steps: SetWeight(5) -> Pause(300 s) -> SetWeight(25) -> Analyze(...) -> Pause() -> ...

- `SetWeight(w)`: send w % of the traffic to the canary (sticky per user on the router);
- `Pause(duration_s, min_requests)`: wait until the time has passed AND the canary
  served that many requests in this step (no traffic is not success); a pause with
  neither waits for a person to approve (`Paused`);
- `Analyze(analysis)`: an inline analysis (`analysis.AnalysisRun`) that blocks the steps.

Beside the steps run, from the start, a background analysis (`spec.analysis`, Argo's
`analysis` field, Flagger's per-interval checks) and the sequential error-rate
`guardrail`. Comparisons in either judge the canary against stable in the same window.
Any Failed or Error analysis, a guardrail that finds the canary worse, an alarm, a
step stuck past the progress deadline or an abort sends all traffic back to stable
(`Aborted`); an Inconclusive analysis pauses for a person (`Paused`), who promotes
(continue) or aborts. After the last step all traffic goes to the canary (`Completed`).
Flagger's `stepWeights` are a shorthand for SetWeight/Pause pairs (`step_weights`).

`RULES` is the whole decision table (action names of its rules: `set_weight`, the
current step's weight; `promote`, all traffic to the canary; `rollback`, all traffic
to stable; `retire_canary`; `retire_stable`): a (phase, event) pair it does not list is
refused, recorded as not accepted, and changes nothing. Time comes in as `now`.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, replace
from enum import StrEnum
from typing import Any

from mlcicd_course.rollout.actions import Action, Record, Rule, ScaleDown, SetWeights, decide
from mlcicd_course.rollout.analysis import AnalysisPhase, AnalysisRun, AnalysisSpec
from mlcicd_course.rollout.guardrail import Guardrail, GuardrailCheck, Verdict, check_observations
from mlcicd_course.rollout.observations import Observations


@dataclass(frozen=True)
class SetWeight:
    """Send `weight` percent of production traffic to the canary."""

    weight: int

    def to_dict(self) -> dict[str, Any]:
        """Plain data for JSON."""
        return {"setWeight": self.weight}


@dataclass(frozen=True)
class Pause:
    """Wait `duration_s` seconds and until the canary served `min_requests` requests in
    this step; with neither, wait until a person approves."""

    duration_s: float | None = None
    min_requests: int = 0

    @property
    def manual(self) -> bool:
        """True for a pause that only a person ends."""
        return self.duration_s is None and self.min_requests == 0

    def to_dict(self) -> dict[str, Any]:
        """Plain data for JSON."""
        pause: dict[str, Any] = {}
        if self.duration_s is not None:
            pause["duration"] = self.duration_s
        if self.min_requests:
            pause["minRequests"] = self.min_requests
        return {"pause": pause}


@dataclass(frozen=True)
class Analyze:
    """An inline analysis of the canary: the steps wait for its outcome."""

    analysis: AnalysisSpec

    def to_dict(self) -> dict[str, Any]:
        """Plain data for JSON."""
        return {"analysis": self.analysis.to_dict()}


Step = SetWeight | Pause | Analyze


def step_weights(weights: Sequence[int], interval_s: float,
                 min_requests: int = 0) -> tuple[Step, ...]:
    """Flagger's `stepWeights` (with its `interval`) as steps: each weight, then a pause."""
    steps: list[Step] = []
    for weight in weights:
        steps += [SetWeight(weight), Pause(interval_s, min_requests)]
    return tuple(steps)


def linear_weights(step_weight: int, max_weight: int) -> tuple[int, ...]:
    """Flagger's `stepWeight` and `maxWeight`: step, 2*step, ... up to max_weight."""
    if not 0 < step_weight <= max_weight <= 100:
        raise ValueError(f"need 0 < stepWeight <= maxWeight <= 100, got {step_weight}, "
                         f"{max_weight}")
    return tuple(range(step_weight, max_weight + 1, step_weight))


@dataclass(frozen=True)
class CanarySpec:
    """Configuration of a canary release (Argo's field in brackets).

    - `stable` / `canary`: the version serving production and the new one;
    - `steps`: what to do in order (`steps`);
    - `analysis`: checks running in the background from the start (`analysis`);
    - `guardrail`: the sequential error-rate test (None: off);
    - `progress_deadline_s`: the longest a step may wait beyond its own duration
      (`progressDeadlineSeconds` with `progressDeadlineAbort`); manual pauses wait.
    """

    stable: str = "stable"
    canary: str = "canary"
    steps: tuple[Step, ...] = ()
    analysis: AnalysisSpec = AnalysisSpec()
    guardrail: Guardrail | None = Guardrail()
    progress_deadline_s: float = 600.0

    def __post_init__(self) -> None:
        if self.stable == self.canary:
            raise ValueError(f"stable and canary must differ, both are {self.stable!r}")
        last = 0
        for i, step in enumerate(self.steps):
            if isinstance(step, SetWeight):
                if isinstance(step.weight, bool) or not isinstance(step.weight, int) \
                        or not 0 < step.weight <= 100:
                    raise ValueError(f"steps[{i}]: weight must be an integer in 1..100, "
                                     f"got {step.weight!r}")
                if step.weight <= last:
                    raise ValueError(f"steps[{i}]: weights must increase, {step.weight} "
                                     f"follows {last}")
                last = step.weight
            elif isinstance(step, Pause):
                if (step.duration_s is not None and step.duration_s < 0) or step.min_requests < 0:
                    raise ValueError(f"steps[{i}]: pause duration and min_requests must be >= 0")
            elif isinstance(step, Analyze):
                for m in step.analysis.metrics:
                    if m.effective_count() is None:
                        raise ValueError(f"steps[{i}]: analysis metric {m.name!r} never ends: "
                                         "give it a count")
            else:
                raise ValueError(f"steps[{i}]: not a step: {step!r}")
        if self.progress_deadline_s <= 0:
            raise ValueError(f"progress_deadline_s must be > 0, got {self.progress_deadline_s}")

    def weights(self) -> tuple[int, ...]:
        """The canary weights the steps set, in order."""
        return tuple(s.weight for s in self.steps if isinstance(s, SetWeight))

    def to_dict(self) -> dict[str, Any]:
        """Plain data for JSON."""
        return {"stable": self.stable, "canary": self.canary,
                "steps": [s.to_dict() for s in self.steps],
                "analysis": self.analysis.to_dict(),
                "guardrail": None if self.guardrail is None else self.guardrail.to_dict(),
                "progress_deadline_s": self.progress_deadline_s}


class CanaryPhase(StrEnum):
    """Where a canary release is."""

    PROGRESSING = "Progressing"
    PAUSED = "Paused"
    COMPLETED = "Completed"
    ABORTED = "Aborted"

    @property
    def terminal(self) -> bool:
        """True once the release has ended."""
        return self in (CanaryPhase.COMPLETED, CanaryPhase.ABORTED)


class Event(StrEnum):
    """What can happen to a canary release. `tick` derives them from observations and time."""

    SET_WEIGHT = "set_weight"                        # a SetWeight step is reached
    STEP_DONE = "step_done"                          # a pause's time and sample are reached
    MANUAL_PAUSE = "manual_pause"                    # a pause without duration is reached
    STEPS_DONE = "steps_done"                        # the last step is done
    ANALYSIS_SUCCESSFUL = "analysis_successful"      # the inline analysis ended Successful
    ANALYSIS_INCONCLUSIVE = "analysis_inconclusive"  # an analysis ended Inconclusive
    ANALYSIS_FAILED = "analysis_failed"              # an analysis ended Failed or Error
    GUARDRAIL = "guardrail"                          # the sequential test: canary worse
    PROMOTE = "promote"                              # a person approves
    ABORT = "abort"                                  # a person (or the target) aborts
    ALARM = "alarm"                                  # a production alarm is in ALARM
    DEADLINE = "deadline"                            # a step waited past its deadline


_P = CanaryPhase
_E = Event
_BACK = ("rollback", "retire_canary")

RULES: Mapping[tuple[CanaryPhase, Event], Rule] = {
    (_P.PROGRESSING, _E.SET_WEIGHT): Rule(_P.PROGRESSING, ("set_weight",), "canary weight set"),
    (_P.PROGRESSING, _E.STEP_DONE): Rule(_P.PROGRESSING, (), "pause over; next step"),
    (_P.PROGRESSING, _E.MANUAL_PAUSE): Rule(_P.PAUSED, (), "paused until a person promotes"),
    (_P.PROGRESSING, _E.STEPS_DONE): Rule(
        _P.COMPLETED, ("promote", "retire_stable"),
        "every step passed: all traffic to the canary, which is the new stable"),
    (_P.PROGRESSING, _E.ANALYSIS_SUCCESSFUL): Rule(
        _P.PROGRESSING, (), "inline analysis passed; next step"),
    (_P.PROGRESSING, _E.ANALYSIS_INCONCLUSIVE): Rule(
        _P.PAUSED, (), "analysis inconclusive: paused, a person decides"),
    (_P.PROGRESSING, _E.ANALYSIS_FAILED): Rule(
        _P.ABORTED, _BACK, "analysis failed: all traffic back to stable"),
    (_P.PROGRESSING, _E.GUARDRAIL): Rule(
        _P.ABORTED, _BACK, "the canary's error rate is higher than stable's (sequential "
        "test): all traffic back to stable"),
    (_P.PROGRESSING, _E.ALARM): Rule(_P.ABORTED, _BACK, "alarm: all traffic back to stable"),
    (_P.PROGRESSING, _E.ABORT): Rule(_P.ABORTED, _BACK, "aborted: all traffic back to stable"),
    (_P.PROGRESSING, _E.DEADLINE): Rule(
        _P.ABORTED, _BACK, "step not done within the progress deadline (no data is not a "
        "pass): all traffic back to stable"),
    (_P.PAUSED, _E.PROMOTE): Rule(_P.PROGRESSING, (), "promoted by a person: next step"),
    (_P.PAUSED, _E.ANALYSIS_FAILED): Rule(
        _P.ABORTED, _BACK, "background analysis failed while paused: all traffic back to stable"),
    (_P.PAUSED, _E.GUARDRAIL): Rule(
        _P.ABORTED, _BACK, "the canary's error rate is higher than stable's while paused: "
        "all traffic back to stable"),
    (_P.PAUSED, _E.ALARM): Rule(
        _P.ABORTED, _BACK, "alarm while paused: all traffic back to stable"),
    (_P.PAUSED, _E.ABORT): Rule(_P.ABORTED, _BACK, "aborted: all traffic back to stable"),
}
"""The decision table. A pair that is not here is refused (see `refusal`)."""

_REFUSALS: Mapping[tuple[CanaryPhase, Event], str] = {
    (_P.PROGRESSING, _E.PROMOTE): "not paused: the steps and the analysis decide",
    (_P.COMPLETED, _E.ABORT): "already promoted: stable is retired; going back is a new release",
    (_P.COMPLETED, _E.ALARM): "already promoted: the alarm is about the new stable",
}


def refusal(phase: CanaryPhase, event: Event) -> str:
    """Why `event` is refused in `phase` (only meaningful for pairs not in `RULES`)."""
    if (phase, event) in _REFUSALS:
        return _REFUSALS[phase, event]
    if phase.terminal:
        return f"the release has ended ({phase})"
    return f"{event} has no meaning in {phase}"


@dataclass(frozen=True)
class CanaryState:
    """Everything a canary release remembers. Never changed: each step returns a new one.

    `step` is the index of the current step (len(steps) once all are done);
    `step_started_at` / `step_start_requests` are when it began and the canary's total
    requests then; `runs` holds every inline analysis started, `background` the
    background one, `guardrail` the last look of the sequential test.
    """

    phase: CanaryPhase
    weight: int
    step: int
    step_started_at: float
    step_start_requests: int = 0
    runs: tuple[AnalysisRun, ...] = ()
    background: AnalysisRun | None = None
    background_reported: bool = False
    guardrail: GuardrailCheck | None = None
    history: tuple[Record, ...] = ()

    def to_dict(self) -> dict[str, Any]:
        """Plain data for JSON."""
        return {"phase": str(self.phase), "weight": self.weight, "step": self.step,
                "step_started_at": self.step_started_at,
                "runs": [r.to_dict() for r in self.runs],
                "background": None if self.background is None else self.background.to_dict(),
                "guardrail": None if self.guardrail is None else self.guardrail.to_dict(),
                "history": [r.to_dict() for r in self.history]}


_ANALYSIS_EVENTS: Mapping[AnalysisPhase, Event] = {
    AnalysisPhase.SUCCESSFUL: Event.ANALYSIS_SUCCESSFUL,
    AnalysisPhase.INCONCLUSIVE: Event.ANALYSIS_INCONCLUSIVE,
    AnalysisPhase.FAILED: Event.ANALYSIS_FAILED,
    AnalysisPhase.ERROR: Event.ANALYSIS_FAILED,
}


class CanaryRollout:
    """The canary decisions for one `CanarySpec`: `start`, `step`, `tick`, `abort`.

    Stateless apart from the spec: the state travels in and out of every call.
    """

    def __init__(self, spec: CanarySpec) -> None:
        self.spec = spec

    def start(self, now: float) -> CanaryState:
        """The state right after the canary was deployed beside stable (no traffic yet)."""
        spec = self.spec
        background = (AnalysisRun(spec.analysis, spec.canary, now, baseline=spec.stable)
                      if spec.analysis.metrics else None)
        record = Record(now, None, CanaryPhase.PROGRESSING, None,
                        f"{spec.canary} deployed beside {spec.stable}, weight 0")
        state = CanaryState(CanaryPhase.PROGRESSING, weight=0, step=0, step_started_at=now,
                            background=background, history=(record,))
        return self._enter(state, 0, now, Observations())

    def step(self, state: CanaryState, event: Event, now: float,
             detail: str = "") -> tuple[CanaryState, tuple[Action, ...]]:
        """Apply one event by the decision table; a refused event is recorded, nothing else."""
        rule, record = decide(RULES, refusal, state.phase, event, now, detail)
        if rule is None:
            return replace(state, history=(*state.history, record)), ()
        actions = tuple(self._action(name, state) for name in rule.actions)
        weight = state.weight
        for action in actions:
            if isinstance(action, SetWeights):
                weight = action.weights[self.spec.canary]
        return replace(state, phase=rule.to, weight=weight,
                       history=(*state.history, record)), actions

    def abort(self, state: CanaryState, now: float,
              detail: str) -> tuple[CanaryState, tuple[Action, ...]]:
        """Abort at `now`: all traffic back to stable."""
        return self.step(state, Event.ABORT, now, detail)

    def _action(self, name: str, state: CanaryState) -> Action:
        stable, canary = self.spec.stable, self.spec.canary
        if name == "set_weight":
            weight = self.spec.steps[state.step]
            assert isinstance(weight, SetWeight)
            return SetWeights({stable: 100 - weight.weight, canary: weight.weight})
        return {"promote": SetWeights({stable: 0, canary: 100}),
                "rollback": SetWeights({stable: 100, canary: 0}),
                "retire_canary": ScaleDown(canary),
                "retire_stable": ScaleDown(stable)}[name]

    def _enter(self, state: CanaryState, index: int, now: float,
               obs: Observations) -> CanaryState:
        """Move to step `index` at `now` (starting its analysis when it has one)."""
        totals = obs.totals.get(self.spec.canary)
        runs = state.runs
        if index < len(self.spec.steps) and isinstance(step := self.spec.steps[index], Analyze):
            runs = (*runs, AnalysisRun(step.analysis, self.spec.canary, now,
                                       baseline=self.spec.stable))
        return replace(state, step=index, step_started_at=now, runs=runs,
                       step_start_requests=0 if totals is None else totals.requests)

    def deadline(self, state: CanaryState) -> float | None:
        """When the current step's time is up (None: paused, ended, or nothing left)."""
        if state.phase is not CanaryPhase.PROGRESSING or state.step >= len(self.spec.steps):
            return None
        step = self.spec.steps[state.step]
        own = (step.duration_s or 0.0) if isinstance(step, Pause) else 0.0
        return state.step_started_at + own + self.spec.progress_deadline_s

    def tick(self, state: CanaryState, now: float,
             obs: Observations) -> tuple[CanaryState, tuple[Action, ...]]:
        """Everything that happens at `now` given `obs`: the new state and the actions.

        Events are offered in this order: abort, alarm, the guardrail, the background
        analysis's outcome (once, when it ends), approval, then the steps from the
        current one on (as many as can finish now, but at most one weight change, so
        a target that refuses it can still abort the release), then the deadline.
        """
        actions: list[Action] = []
        spec = self.spec

        def apply(event: Event, detail: str = "") -> None:
            nonlocal state
            state, done = self.step(state, event, now, detail)
            actions.extend(done)

        if state.phase.terminal:
            return state, ()
        if obs.abort:
            apply(Event.ABORT, "requested")
        if obs.alarms:
            apply(Event.ALARM, "in ALARM: " + ", ".join(sorted(obs.alarms)))
        if spec.guardrail is not None and not state.phase.terminal:
            look = check_observations(spec.guardrail, obs, spec.stable, spec.canary)
            state = replace(state, guardrail=look)
            if look.verdict is Verdict.WORSE:
                apply(Event.GUARDRAIL, look.message)
        if state.background is not None and not state.phase.terminal:
            run = state.background.take(now, obs)
            state = replace(state, background=run)
            phase, reason = run.assess()
            if phase.completed and not state.background_reported:
                state = replace(state, background_reported=True)
                if phase is not AnalysisPhase.SUCCESSFUL:
                    apply(_ANALYSIS_EVENTS[phase], f"background {phase}: {reason}")
        if obs.approve:
            apply(Event.PROMOTE, "approved")
            if state.phase is CanaryPhase.PROGRESSING:   # resume: the step starts afresh
                state = self._enter(state, state.step, now, obs)
        weight_set = False   # one weight change per tick: the target applies it before more
        while state.phase is CanaryPhase.PROGRESSING and state.step < len(spec.steps) \
                and not weight_set:
            step = spec.steps[state.step]
            where = f"step {state.step}"
            if isinstance(step, SetWeight):
                apply(Event.SET_WEIGHT, f"{where}: {step.weight}% to {spec.canary}")
                weight_set = True
            elif isinstance(step, Pause) and step.manual:
                apply(Event.MANUAL_PAUSE, where)
            elif isinstance(step, Pause):
                totals = obs.totals.get(spec.canary)
                served = (0 if totals is None else totals.requests) - state.step_start_requests
                waited = now - state.step_started_at
                if waited < (step.duration_s or 0.0) or served < step.min_requests:
                    break
                apply(Event.STEP_DONE, f"{where}: waited {waited:g} s, {served} canary requests")
            else:
                run = state.runs[-1].take(now, obs)
                state = replace(state, runs=(*state.runs[:-1], run))
                phase, reason = run.assess()
                if not phase.completed:
                    break
                apply(_ANALYSIS_EVENTS[phase], f"{where}: {phase}: {reason}")
            if state.phase is CanaryPhase.PROGRESSING:
                state = self._enter(state, state.step + 1, now, obs)
            elif state.phase is CanaryPhase.PAUSED:      # a promotion resumes after this step
                state = replace(state, step=state.step + 1)
        if state.phase is CanaryPhase.PROGRESSING and state.step >= len(spec.steps) \
                and not weight_set:
            apply(Event.STEPS_DONE, f"after {len(spec.steps)} steps")
        deadline = self.deadline(state)
        if deadline is not None and now >= deadline:
            apply(Event.DEADLINE, f"step {state.step} due by {deadline:g} s")
        return state, tuple(actions)

    def next_wakeup(self, state: CanaryState) -> float | None:
        """The next time anything can happen without new observations (None: only events)."""
        if state.phase.terminal:
            return None
        times = [self.deadline(state)]
        if state.background is not None and not state.background_reported:
            times.append(state.background.next_wakeup())
        if state.phase is CanaryPhase.PROGRESSING and state.step < len(self.spec.steps):
            step = self.spec.steps[state.step]
            if isinstance(step, Pause) and step.duration_s is not None:
                times.append(state.step_started_at + step.duration_s)
            elif isinstance(step, Analyze):
                times.append(state.runs[-1].next_wakeup())
        return min((t for t in times if t is not None), default=None)
