"""GitHub Actions workflows: read them, evaluate their expressions, check them, run them.

Used by `mlcicd workflow check|graph|run|summary`, by the course's tests and by chapter 03.
One module per job:

- `reader`: workflow files into dataclasses (`load_workflow`, `parse_workflow`), with the
  line of every node, the source text of every scalar and the keys written twice;
- `expressions`: the `${{ }}` language (`evaluate`, `interpolate`, `condition_holds`);
- `contexts`: what `github.*`, `inputs.*`, ... hold for a local run of an event;
- `versions`: oldest majors that still run, recorded tags of released commits;
- `findings`, `policy` and the `rules_*` modules: the policy checks (`check_workflow`,
  `check_paths`, `POLICY_RULES`); `permissions`: what a job's token may do;
- `graph`: which jobs run for an event (`job_graph`), the matrix;
- `runner`, `results`, `shell`, `offline_pip`, `repository`: running steps locally;
- `standins` and `fake_github`: the local stand-ins for actions (`STAND_INS`);
- `summary`: appending to the job summary (`write_step_summary`).

The names below are the public interface; import them from `mlcicd_course.workflows`.
"""

from mlcicd_course.workflows.contexts import EVENTS, default_context, set_dotted
from mlcicd_course.workflows.expressions import (
    ExpressionError,
    condition_holds,
    evaluate,
    find_expressions,
    interpolate,
    status_flags,
    to_string,
    truthy,
)
from mlcicd_course.workflows.findings import POLICY_RULES, Finding
from mlcicd_course.workflows.graph import (
    GraphNode,
    JobGraph,
    expand_matrix,
    job_graph,
    matches_filters,
    topological_order,
)
from mlcicd_course.workflows.policy import (
    CheckReport,
    check_paths,
    check_workflow,
    check_workflows,
)
from mlcicd_course.workflows.reader import (
    Job,
    Step,
    Workflow,
    iter_steps,
    load_workflow,
    parse_workflow,
    workflow_files,
)
from mlcicd_course.workflows.repository import repository_files
from mlcicd_course.workflows.results import JobResult, RunResult, StepResult, format_run
from mlcicd_course.workflows.runner import RunOptions, run_workflow
from mlcicd_course.workflows.shell import parse_file_command
from mlcicd_course.workflows.standins import STAND_INS
from mlcicd_course.workflows.summary import write_step_summary
from mlcicd_course.workflows.versions import KNOWN_TAGS, MINIMUM_MAJORS, MINIMUM_PYTHON

__all__ = [
    "EVENTS", "KNOWN_TAGS", "MINIMUM_MAJORS", "MINIMUM_PYTHON", "POLICY_RULES", "STAND_INS",
    "CheckReport", "ExpressionError", "Finding", "GraphNode", "Job", "JobGraph", "JobResult",
    "RunOptions", "RunResult", "Step", "StepResult", "Workflow", "check_paths",
    "check_workflow", "check_workflows", "condition_holds", "default_context", "evaluate",
    "expand_matrix", "find_expressions", "format_run", "interpolate", "iter_steps", "job_graph",
    "load_workflow", "matches_filters", "parse_file_command", "parse_workflow",
    "repository_files", "run_workflow", "set_dotted", "status_flags", "to_string",
    "topological_order", "truthy", "workflow_files", "write_step_summary",
]
