"""The end-to-end pipeline: data -> validate -> train -> evaluate -> gate -> register ->
shadow -> staging canary -> smoke -> production -> watch, with rollback.

Public API (stable for notebook 08):

- `config.load_pipeline(path) -> PipelineConfig` (and `parse_pipeline(data)`): the YAML
  file read into frozen settings (`DataSettings`, `TrainingSettings`, `GateSettings`,
  `ShadowSettings`, `CanaryStage`, `ProductionSettings`, `WatchSettings`); a bad key is
  one `UserInputError` line naming it.
- `stages`: `PipelineContext(config, registry, workdir, clock=...)` (a context manager
  that stops the servers it started), `StageResult(name, decision, reason, started_s,
  seconds, details, rolled_back)`, `Decision` (passed / failed / skipped), and the
  offline stage functions `load_data`, `validate_data`, `train_candidate`,
  `evaluate_candidate`, `production_baseline`, `gate`, `register_candidate`.
- `deploy`: the live stage functions `shadow`, `staging`, `smoke`, `production`,
  `watch` (and `environment(ctx, name)`, the running router of an environment).
- `run`: `STAGES`, `PARTS`, `run_pipeline(config, workdir=, registry=, part=, clock=)
  -> PipelineRun` (`results`, `outcome`, `exit_code`, `stopped_at`, `summary()`,
  `to_dict()`), `run_stages(ctx, stages)`.
- `report`: `pipeline_markdown(run)`, `write_report(run, folder)` (pipeline.md and
  pipeline.json).

Every stage function takes the context and returns a `StageResult`; the command only
wires them (`mlcicd pipeline run`).
"""
