"""Which jobs a workflow runs for an event, in `needs` order, drawn or printed."""

from __future__ import annotations

import itertools
import re
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from mlcicd_course.errors import UserInputError
from mlcicd_course.workflows.contexts import default_context, evaluate_env, set_dotted
from mlcicd_course.workflows.expressions import condition_holds, interpolate
from mlcicd_course.workflows.reader import Job, Workflow, load_workflow


@dataclass(frozen=True)
class GraphNode:
    """One job in the graph: whether it runs for the event, and why not."""

    id: str
    name: str
    needs: tuple[str, ...]
    level: int
    runs: bool
    reason: str = ""
    matrix_size: int = 1

    def to_dict(self) -> dict[str, Any]:
        return {"id": self.id, "name": self.name, "needs": list(self.needs), "level": self.level,
                "runs": self.runs, "reason": self.reason, "matrix_size": self.matrix_size}


@dataclass(frozen=True)
class JobGraph:
    """Which jobs a workflow runs for one event, in `needs` order."""

    workflow: str
    event: str
    nodes: tuple[GraphNode, ...]

    @property
    def order(self) -> list[str]:
        """Ids of the jobs that run, in an order that respects `needs`."""
        return [node.id for node in self.nodes if node.runs]

    def node(self, job_id: str) -> GraphNode:
        return next(node for node in self.nodes if node.id == job_id)

    def to_dict(self) -> dict[str, Any]:
        return {"workflow": self.workflow, "event": self.event, "order": self.order,
                "jobs": [node.to_dict() for node in self.nodes]}

    def to_text(self) -> str:
        """One line per job: level, id, needs, and whether it runs."""
        lines = [f"{self.workflow} on {self.event}: "
                 f"{len(self.order)} of {len(self.nodes)} jobs run"]
        for node in self.nodes:
            needs = f" (needs {', '.join(node.needs)})" if node.needs else ""
            matrix = f" x{node.matrix_size}" if node.matrix_size > 1 else ""
            state = "runs" if node.runs else f"skipped: {node.reason}"
            lines.append(f"  {node.level + 1}. {node.id}{matrix}{needs}: {state}")
        return "\n".join(lines)

    def to_mermaid(self) -> str:
        """A Mermaid flowchart (GitHub renders it in markdown)."""
        lines = ["flowchart LR"]
        for node in self.nodes:
            label = node.id + (f" x{node.matrix_size}" if node.matrix_size > 1 else "")
            lines.append(f'  {_mermaid_id(node.id)}["{label}"]')
        for node in self.nodes:
            for need in node.needs:
                lines.append(f"  {_mermaid_id(need)} --> {_mermaid_id(node.id)}")
        skipped = [_mermaid_id(node.id) for node in self.nodes if not node.runs]
        if skipped:
            lines.append("  classDef skipped stroke-dasharray: 4 4,opacity:0.5")
            lines.append(f"  class {','.join(skipped)} skipped")
        return "\n".join(lines)

    def plot(self, ax: Any = None) -> Any:
        """Draw the graph with matplotlib (jobs as boxes by level); return the axes."""
        import matplotlib.pyplot as plt

        if ax is None:
            _, ax = plt.subplots(figsize=(7, 2.2), dpi=80)
        levels: dict[int, list[GraphNode]] = {}
        for node in self.nodes:
            levels.setdefault(node.level, []).append(node)
        position = {}
        for level, nodes in levels.items():
            for row, node in enumerate(nodes):
                position[node.id] = (level, -(row - (len(nodes) - 1) / 2))
        boxes = {}
        for node in self.nodes:
            x, y = position[node.id]
            label = node.id + (f"\nx{node.matrix_size}" if node.matrix_size > 1 else "")
            style = ({"facecolor": "#cfe8cf", "edgecolor": "#2e7d32"} if node.runs else
                     {"facecolor": "#eeeeee", "edgecolor": "0.6", "linestyle": "--"})
            boxes[node.id] = ax.text(x, y, label, ha="center", va="center", fontsize=9,
                                     color="black" if node.runs else "0.45", zorder=2,
                                     bbox={"boxstyle": "round,pad=0.4", **style})
        for node in self.nodes:
            for need in node.needs:
                ax.annotate("", xy=position[node.id], xytext=position[need], zorder=3,
                            arrowprops={"arrowstyle": "->", "color": "0.4", "shrinkA": 3,
                                        "shrinkB": 3,
                                        "patchA": boxes[need].get_bbox_patch(),
                                        "patchB": boxes[node.id].get_bbox_patch()})
        width = max(levels) + 1 if levels else 1
        height = max(len(nodes) for nodes in levels.values()) if levels else 1
        ax.set_xlim(-0.6, width - 0.4)
        ax.set_ylim(-height / 2 - 0.1, height / 2 + 0.1)
        ax.set_xticks(range(width), [f"stage {i + 1}" for i in range(width)])
        ax.set_yticks([])
        ax.set_xlabel("stage: a job starts when the jobs it needs are done")
        for side in ("top", "right", "left"):
            ax.spines[side].set_visible(False)
        ax.set_title(f"{self.workflow} on {self.event} (grey: skipped)", fontsize=10)
        return ax


def _mermaid_id(job_id: str) -> str:
    return re.sub(r"[^A-Za-z0-9_]", "_", job_id)


def topological_order(workflow: Workflow) -> list[str]:
    """Job ids so that every job comes after the jobs it needs (file order otherwise)."""
    order: list[str] = []
    remaining = list(workflow.jobs)
    while remaining:
        ready = [job_id for job_id in remaining
                 if all(need in order for need in workflow.jobs[job_id].needs)]
        if not ready:
            raise UserInputError(f"workflow {workflow.path.name}: the `needs` of jobs "
                                 f"{', '.join(remaining)} form a cycle")
        order.append(ready[0])
        remaining.remove(ready[0])
    return order


def _levels(workflow: Workflow, order: Sequence[str]) -> dict[str, int]:
    levels: dict[str, int] = {}
    for job_id in order:
        needs = workflow.jobs[job_id].needs
        levels[job_id] = 1 + max((levels[n] for n in needs), default=-1)
    return levels


def needs_status(results: Mapping[str, str]) -> str:
    """The status the status functions see in a job-level `if:`, from its needs' results."""
    values = list(results.values())
    if any(value == "cancelled" for value in values):
        return "cancelled"
    if any(value == "failure" for value in values):
        return "failure"
    if any(value == "skipped" for value in values):
        return "skipped"
    return "success"


def event_triggers(workflow: Workflow, event: str, context: Mapping[str, Any]) -> str:
    """Why `workflow` does not run for `event` with this context ("" when it does)."""
    if event not in workflow.on:
        return (f"{workflow.path.name} does not run on {event} "
                f"(its triggers: {', '.join(workflow.on)})")
    spec = workflow.on[event]
    github = context["github"]
    if event in ("push", "pull_request"):
        branch = github["base_ref"] if event == "pull_request" else github["ref_name"]
        if "branches" in spec and not matches_filters(spec["branches"], branch):
            return f"{event} to branch {branch!r} is filtered out by branches: {spec['branches']}"
        if "branches-ignore" in spec and matches_filters(spec["branches-ignore"], branch):
            return f"{event} to branch {branch!r} is in branches-ignore"
    return ""


def job_graph(workflow: Workflow | str | Path, event: str, *,
              context: Mapping[str, Any] | None = None,
              inputs: Mapping[str, Any] | None = None) -> JobGraph:
    """Which jobs run for `event`, assuming every job that runs succeeds."""
    if not isinstance(workflow, Workflow):
        workflow = load_workflow(workflow)
    ctx = default_context(workflow, event, inputs=inputs)
    for dotted, value in (context or {}).items():
        set_dotted(ctx, dotted, value)
    reason = event_triggers(workflow, event, ctx)
    if reason:
        raise UserInputError(reason)
    ctx["env"] = evaluate_env(workflow.env, ctx)
    order = topological_order(workflow)
    levels = _levels(workflow, order)
    results: dict[str, str] = {}
    nodes = []
    for job_id in order:
        job = workflow.jobs[job_id]
        needs = {need: results[need] for need in job.needs}
        job_ctx = {**ctx, "needs": {need: {"result": result, "outputs": {
            name: None for name in workflow.jobs[need].outputs}} for need, result in needs.items()}}
        runs = condition_holds(job.if_, job_ctx, status=needs_status(needs))
        why = ""
        if not runs:
            skipped = [need for need, result in needs.items() if result != "success"]
            why = (f"needs {', '.join(skipped)}, which did not run" if skipped and job.if_ is None
                   else f"if: {str(job.if_).strip()}")
        results[job_id] = "success" if runs else "skipped"
        size = len(expand_matrix(job, job_ctx)) if job.matrix else 1
        nodes.append(GraphNode(job_id, job.name, job.needs, levels[job_id], runs, why, size))
    return JobGraph(workflow.name, event, tuple(nodes))


# --------------------------------------------------------------------------------------
# Running


def matches_filters(patterns: Sequence[str], value: str) -> bool:
    """Whether `value` matches GitHub branch/tag filter globs (`*`, `**`, `!` negation)."""
    matched = False
    for pattern in patterns:
        negate = pattern.startswith("!")
        body = pattern[1:] if negate else pattern
        regex = "".join(".*" if part == "**" else "[^/]*" if part == "*" else re.escape(part)
                        for part in re.split(r"(\*\*|\*)", body))
        if re.fullmatch(regex, value):
            matched = not negate
    return matched


def expand_matrix(job: Job, context: Mapping[str, Any]) -> list[dict[str, Any]]:
    """The matrix entries of a job (GitHub's include/exclude rules)."""
    matrix = interpolate(dict(job.matrix), context)
    if isinstance(matrix, str):
        raise UserInputError(f"job {job.id}: the matrix is not a mapping")
    keys = [k for k in matrix if k not in ("include", "exclude")]
    for key in keys:
        if not isinstance(matrix[key], list):
            raise UserInputError(f"job {job.id}: matrix {key!r} must be a list")
    combos = ([dict(zip(keys, values, strict=True))
               for values in itertools.product(*(matrix[k] for k in keys))] if keys else [])
    for rule in matrix.get("exclude") or []:
        combos = [c for c in combos if not all(c.get(k) == v for k, v in rule.items())]
    for extra in matrix.get("include") or []:
        matched = False
        for combo in combos:
            original = {k: combo[k] for k in keys}
            if all(original.get(k, v) == v for k, v in extra.items() if k in keys):
                combo.update({k: v for k, v in extra.items() if k not in keys or k not in original})
                matched = True
        if not matched:
            combos.append(dict(extra))
    return combos or [{}]
