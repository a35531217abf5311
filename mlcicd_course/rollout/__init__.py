"""Rollout strategies as pure state machines, and the controller that carries them out.

- `bluegreen`: the blue-green decisions (`BlueGreenSpec`, `BlueGreenRollout`, `RULES`);
- `canary`: the canary decisions (`CanarySpec`, steps, `CanaryRollout`, `RULES`), with
  `guardrail` (the sequential error-rate test), `canary_config` (YAML files),
  `canary_sim` (a day of traffic in a second), `canary_export` (Argo Rollouts and
  Flagger manifests) and `canary_live` (the live router);
- `providers`: where metrics come from (the router's or a model server's Prometheus
  counters, or any callable), as windows between two readings;
- `analysis`: Argo-style analysis (`MetricSpec`, `AnalysisSpec`, `assess_metric`,
  `assess_run`), shared with canary releases;
- `observations`: what a caller measured (`Observations`, `VersionMetrics`) and the
  queries and comparisons against a baseline that metrics read from it;
- `controller`: `RolloutController` applies decisions to a `shifter.TrafficShifter`;
- `clock`: `FakeClock` for tests and simulations, `MonotonicClock` for live runs;
- `simulation`: a seeded, simulated-clock run with a timeline table.

A live loop reads the time and the metrics, ticks, and waits for the next tick::

    controller = RolloutController(BlueGreenRollout(spec), shifter)
    controller.start(clock.now())
    while not controller.state.phase.terminal:
        controller.tick(clock.now(), observe())   # observe(): the caller's measurements
        ...wait until the next tick (the controller itself never waits)...
"""
