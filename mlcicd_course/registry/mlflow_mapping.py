"""How this registry's concepts map onto MLflow's model registry, for a team that moves on.

MLflow is not a dependency: this is a table for the course to print. Since MLflow 2.9
the fixed stages (None, Staging, Production, Archived, moved with
`transition_model_version_stage`) are deprecated in favour of model version aliases
(`set_registered_model_alias(name, "champion", version)`, loaded as
`models:/NAME@champion`) and tags, and are to be removed in a future major release.
"""

from __future__ import annotations

#: (our concept, MLflow model-registry concept, note) rows.
MLFLOW_MAPPING: tuple[tuple[str, str, str], ...] = (
    ("the registry (a folder or s3://bucket/prefix)", "registered model",
     "MLflow keeps many named models per tracking server; ours holds one model's versions"),
    ("version v1, v2, ...", "model version 1, 2, ...",
     "both numbered by the registry in order of registration"),
    ("sha256 of the artifact", "model version source (artifact URI) and run",
     "MLflow points at the logged artifact; the sha256 check before unpickling is ours"),
    ("metrics, data fingerprint, parent", "run metrics and params, model version tags",
     "MLflow records lineage through the run that logged the model"),
    ("stage production (one version)", "alias @champion",
     "stages are deprecated since MLflow 2.9; an alias names exactly one version and "
     "moves with set_registered_model_alias"),
    ("stage staging (one version)", "alias @challenger",
     "any alias name works; load it as models:/NAME@challenger"),
    ("stage candidate", "a version without an alias",
     "a registered version nobody serves yet"),
    ("stage archived", "a tag such as status=archived",
     "an old version loses its alias; versions are kept unless deleted"),
    ("promote VERSION production", "set_registered_model_alias(NAME, 'champion', VERSION)",
     "replaces the alias target; our registry also archives the version it replaced"),
    ("rollback production", "set the alias back to the previous version",
     "MLflow has no rollback call: the pipeline must remember the previous version"),
    ("history (who, when, why)", "model version descriptions and tags",
     "our history is one append-only list in the index"),
)
