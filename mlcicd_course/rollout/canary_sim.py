"""A canary release on a simulated clock: a day of requests in a fraction of a second.

A discrete-event simulation, vectorised with numpy. Requests arrive as a Poisson
process over the whole horizon, each from one of `users` customers of the running
example (`datasets.sample`: features, true churn probability, label). Every request's
random draws (error, latency, flipped prediction) are made up front; the controller
ticks every `step_s` simulated seconds, and the requests of that step go to the canary
when their user's sticky bucket is below the canary's weight (raising the weight only
adds users, as on the router). Per version and step: requests and errors; latency
p50/p99 from a log-normal model; predicted probabilities (the stable model is the
example's own churn probability, a release may bias it or flip predictions); accuracy
once labels arrive (`label_delay_s` later). The controller sees the last `window_s`
seconds as metrics and everything so far as totals. Nothing sleeps; a seed fixes all.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np
import pandas as pd

from mlcicd_course.rollout.actions import Record
from mlcicd_course.rollout.canary import CanaryRollout
from mlcicd_course.rollout.controller import Applied, RolloutController
from mlcicd_course.rollout.guardrail import Guardrail, naive_rejects, sequential_rejects
from mlcicd_course.rollout.observations import PROBA_BINS, Observations, VersionMetrics
from mlcicd_course.rollout.shifter import InMemoryShifter


@dataclass(frozen=True)
class ReleaseModel:
    """How one simulated version behaves: error rate, log-normal latency (median and
    spread), a bias added to its predicted probabilities, and the share of predictions
    it gets wrong on purpose (a quiet accuracy regression)."""

    error_rate: float = 0.005
    latency_median_ms: float = 20.0
    latency_sigma: float = 0.4
    proba_bias: float = 0.0
    flip_rate: float = 0.0

    def to_dict(self) -> dict[str, Any]:
        """Plain data for JSON."""
        return {"error_rate": self.error_rate, "latency_median_ms": self.latency_median_ms,
                "latency_sigma": self.latency_sigma, "proba_bias": self.proba_bias,
                "flip_rate": self.flip_rate}


@dataclass(frozen=True)
class CanaryTraffic:
    """Who sends what: the two versions' models, requests per second, distinct users,
    how long labels take, how often the controller ticks and what window it sees."""

    stable: ReleaseModel = ReleaseModel()
    canary: ReleaseModel = ReleaseModel()
    requests_per_s: float = 2.0
    users: int = 20_000
    label_delay_s: float = 3600.0
    step_s: float = 60.0
    window_s: float = 600.0

    def __post_init__(self) -> None:
        if self.requests_per_s <= 0 or self.users < 1 or self.step_s <= 0 \
                or self.window_s < self.step_s or self.label_delay_s < 0:
            raise ValueError("need requests_per_s > 0, users >= 1, step_s > 0, "
                             "window_s >= step_s and label_delay_s >= 0")

    def to_dict(self) -> dict[str, Any]:
        """Plain data for JSON."""
        return {"stable": self.stable.to_dict(), "canary": self.canary.to_dict(),
                "requests_per_s": self.requests_per_s, "users": self.users,
                "label_delay_s": self.label_delay_s, "step_s": self.step_s,
                "window_s": self.window_s}


@dataclass(frozen=True)
class CanarySimulation:
    """A simulated canary: one timeline row per tick, the decisions, the actions applied,
    and what it cost: requests served by the canary and distinct users who met it."""

    timeline: pd.DataFrame
    history: tuple[Record, ...]
    applied: tuple[Applied, ...]
    requests: int
    canary_requests: int
    users_exposed: int
    final_phase: str
    ended_at: float

    def to_dict(self) -> dict[str, Any]:
        """Plain data for JSON (without the timeline)."""
        return {"final_phase": self.final_phase, "ended_at": self.ended_at,
                "requests": self.requests, "canary_requests": self.canary_requests,
                "users_exposed": self.users_exposed,
                "history": [r.to_dict() for r in self.history],
                "applied": [a.to_dict() for a in self.applied]}


LATENCY_EDGES_MS = np.geomspace(0.1, 60_000.0, 281)
"""Latency bins of the simulation: 280 log-spaced bins, each about 5 % wider than the last."""

_STATS = 4  # per version and step: requests, errors, labelled, correct


def _outcomes(model: ReleaseModel, draws: Mapping[str, np.ndarray], base: np.ndarray,
              label: np.ndarray) -> dict[str, np.ndarray]:
    """Every request's outcome if `model` served it: error, latency bin, proba bin, correct."""
    latency = model.latency_median_ms * np.exp(model.latency_sigma * draws["lat_z"])
    proba = np.clip(base + model.proba_bias, 0.0, 1.0)
    predicted = (proba >= 0.5) ^ (draws["flip_u"] < model.flip_rate)
    return {"error": draws["err_u"] < model.error_rate,
            "latency_bin": np.clip(np.searchsorted(LATENCY_EDGES_MS, latency) - 1, 0,
                                   LATENCY_EDGES_MS.size - 2),
            "proba_bin": np.minimum((proba * PROBA_BINS).astype(int), PROBA_BINS - 1),
            "correct": predicted == label}


def _percentile(hist: np.ndarray, q: float) -> float:
    """The q-th percentile from a latency histogram (upper edge of the bin reaching it)."""
    cumulative = np.cumsum(hist)
    return float(LATENCY_EDGES_MS[1 + np.searchsorted(cumulative, q / 100 * cumulative[-1])])


def simulate_canary(rollout: CanaryRollout, traffic: CanaryTraffic, *, until_s: float = 86_400.0,
                    seed: int = 0, approve_at: Sequence[float] = (),
                    abort_at: Sequence[float] = (),
                    alarms_at: Mapping[str, float] | None = None) -> CanarySimulation:
    """Run `rollout` on simulated traffic until it ends or `until_s` simulated seconds.

    `approve_at` / `abort_at`: times a person presses promote / abort; `alarms_at`: alarm
    name -> time from which it is in ALARM. The timeline has, per tick: `t`, `phase`,
    `weight` (canary, after the tick) and per role in (stable, canary) the window's
    `requests_`, `error_rate_`, `p99_` (from 5 %-wide latency bins) and `accuracy_`
    (requests whose labels have arrived), the guardrail's interval (`guardrail_low`,
    `guardrail_high`) and the decisions taken at the tick.
    """
    from mlcicd_course.datasets import TARGET, churn_probability, sample  # only when run

    spec = rollout.spec
    rng = np.random.default_rng(seed)
    customers = sample(traffic.users, seed=int(rng.integers(2**31)))
    n = int(rng.poisson(traffic.requests_per_s * until_s))
    arrival = np.sort(rng.uniform(0.0, until_s, n))
    user = rng.integers(0, traffic.users, n)
    draws = {"err_u": rng.random(n), "lat_z": rng.standard_normal(n), "flip_u": rng.random(n)}
    bucket = rng.random(traffic.users)[user]     # each user's sticky place in [0, 1)
    base = churn_probability(customers)[user]
    label = customers[TARGET].to_numpy()[user] == 1
    roles = {spec.stable: _outcomes(traffic.stable, draws, base, label),
             spec.canary: _outcomes(traffic.canary, draws, base, label)}
    on_canary = np.zeros(n, dtype=bool)
    edges = np.searchsorted(arrival, np.arange(0.0, until_s + traffic.step_s, traffic.step_s))
    ticks = len(edges) - 1
    counts = {v: np.zeros((ticks, _STATS), dtype=np.int64) for v in roles}
    latency = {v: np.zeros((ticks, LATENCY_EDGES_MS.size - 1), dtype=np.int64) for v in roles}
    probas = {v: np.zeros((ticks, PROBA_BINS), dtype=np.int64) for v in roles}
    window = max(1, round(traffic.window_s / traffic.step_s))
    lag = round(traffic.label_delay_s / traffic.step_s)
    shifter = InMemoryShifter({spec.stable: 100, spec.canary: 0})
    controller = RolloutController(rollout, shifter)
    controller.start(0.0)
    running = {v: np.zeros(2, dtype=np.int64) for v in roles}   # totals since the start
    rows: list[dict[str, Any]] = []
    t = 0.0
    for k in range(ticks):
        t = (k + 1) * traffic.step_s
        lo, hi = edges[k], edges[k + 1]
        on_canary[lo:hi] = bucket[lo:hi] < shifter.weights()[spec.canary] / 100
        metrics, totals = {}, {}
        for name, out in roles.items():
            mine = np.flatnonzero(on_canary[lo:hi] == (name == spec.canary)) + lo
            ok = mine[~out["error"][mine]]
            counts[name][k] = (mine.size, mine.size - ok.size, ok.size, out["correct"][ok].sum())
            latency[name][k] = np.bincount(out["latency_bin"][mine],
                                           minlength=LATENCY_EDGES_MS.size - 1)
            probas[name][k] = np.bincount(out["proba_bin"][ok], minlength=PROBA_BINS)
            metrics[name] = _window_metrics(counts[name], latency[name], probas[name],
                                            k, window, lag)
            running[name] += counts[name][k, :2]
            totals[name] = VersionMetrics(int(running[name][0]), int(running[name][1]), 0.0, 0.0)
        obs = Observations(
            metrics=metrics, totals=totals,
            alarms=tuple(sorted(a for a, since in (alarms_at or {}).items() if t >= since)),
            approve=any(t - traffic.step_s < a <= t for a in approve_at),
            abort=any(t - traffic.step_s < a <= t for a in abort_at))
        before = len(controller.history)
        controller.tick(t, obs)
        rows.append(_row(t, controller, shifter.weights()[spec.canary], metrics, spec, before))
        if controller.state.phase.terminal:
            break
    served = int(edges[len(rows)])
    exposed = on_canary[:served]
    return CanarySimulation(
        timeline=pd.DataFrame(rows), history=tuple(controller.history),
        applied=tuple(controller.applied), requests=served,
        canary_requests=int(exposed.sum()),
        users_exposed=int(np.unique(user[:served][exposed]).size),
        final_phase=str(controller.state.phase), ended_at=t)


def _window_metrics(counts: np.ndarray, latency: np.ndarray, probas: np.ndarray, k: int,
                    window: int, lag: int) -> VersionMetrics:
    """A version's metrics over the `window` steps up to step k; accuracy over the window
    `lag` steps earlier, whose labels have arrived."""
    first = max(0, k + 1 - window)
    requests, errors = (int(x) for x in counts[first:k + 1, :2].sum(axis=0))
    if requests == 0:
        return VersionMetrics(0, 0, 0.0, 0.0)
    labelled = counts[max(0, first - lag):max(0, k + 1 - lag), 2:].sum(axis=0)
    hist = latency[first:k + 1].sum(axis=0)
    proba = probas[first:k + 1].sum(axis=0)
    return VersionMetrics(requests, errors, _percentile(hist, 50), _percentile(hist, 99),
                          accuracy=float(labelled[1] / labelled[0]) if labelled[0] else None,
                          proba_counts=tuple(int(c) for c in proba) if proba.any() else None)


def _row(t: float, controller: RolloutController, weight: int,
         metrics: Mapping[str, VersionMetrics], spec: Any, before: int) -> dict[str, Any]:
    look = controller.state.guardrail
    row: dict[str, Any] = {"t": t, "phase": str(controller.state.phase), "weight": weight}
    for role, name in (("stable", spec.stable), ("canary", spec.canary)):
        m = metrics[name]
        row.update({f"requests_{role}": m.requests, f"error_rate_{role}": m.error_rate,
                    f"p99_{role}": m.latency_p99_ms if m.requests else None,
                    f"accuracy_{role}": m.accuracy})
    row["guardrail_low"] = None if look is None else look.ci_low
    row["guardrail_high"] = None if look is None else look.ci_high
    row["decisions"] = "; ".join(str(r.event) for r in controller.history[before:]
                                 if r.accepted and r.event is not None)
    return row


@dataclass(frozen=True)
class GuardrailTrials:
    """Many seeded canaries judged by the error-rate guardrail and by the naive repeated
    z-test: how often each rolled back, and after how many canary requests."""

    canaries: int
    looks: int
    stable_error_rate: float
    canary_error_rate: float
    rollback_rate_sequential: float
    rollback_rate_naive: float
    median_canary_requests_sequential: float | None
    median_canary_requests_naive: float | None

    def to_dict(self) -> dict[str, Any]:
        """Plain data for JSON."""
        return dict(self.__dict__)


def guardrail_trials(*, canaries: int, looks: int, requests_per_look: int, canary_share: float,
                     stable_error_rate: float, canary_error_rate: float,
                     guardrail: Guardrail | None = None, seed: int = 0) -> GuardrailTrials:
    """Judge `canaries` seeded canaries at `looks` looks each, all at once (vectorised).

    At each look `requests_per_look` requests arrive, `canary_share` of them to the
    canary; counts are cumulative. With equal error rates (an A/A canary) any rollback
    is a false one; the guardrail's rate should stay at or below its alpha, the naive
    test (one-sided z-test at `guardrail.alpha`, at every look) climbs far above.
    """
    guardrail = guardrail or Guardrail()
    rng = np.random.default_rng(seed)
    shape = (canaries, looks)
    n_canary = rng.binomial(requests_per_look, canary_share, shape)
    n_stable = requests_per_look - n_canary
    e_canary = rng.binomial(n_canary, canary_error_rate)
    e_stable = rng.binomial(n_stable, stable_error_rate)
    counts = [np.cumsum(a, axis=1) for a in (e_stable, n_stable, e_canary, n_canary)]
    seq = sequential_rejects(*counts, guardrail)
    naive = naive_rejects(*counts, alpha=guardrail.alpha, min_sample=guardrail.min_sample)
    cum_canary = counts[3]

    def median_requests(rejects: np.ndarray) -> float | None:
        hit = rejects.any(axis=1)
        if not hit.any():
            return None
        first = rejects.argmax(axis=1)
        return float(np.median(cum_canary[hit, first[hit]]))

    return GuardrailTrials(
        canaries=canaries, looks=looks, stable_error_rate=stable_error_rate,
        canary_error_rate=canary_error_rate,
        rollback_rate_sequential=float(seq.any(axis=1).mean()),
        rollback_rate_naive=float(naive.any(axis=1).mean()),
        median_canary_requests_sequential=median_requests(seq),
        median_canary_requests_naive=median_requests(naive))
