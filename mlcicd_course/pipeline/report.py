"""The pipeline's report: markdown (also for $GITHUB_STEP_SUMMARY) and JSON.

Both list every stage with its decision, reason and timings; the JSON adds each stage's
details (gate numbers, canary history, watch windows, the registry's rollback).
"""

from __future__ import annotations

import os
from pathlib import Path
from typing import TYPE_CHECKING

from mlcicd_course.fileio import json_text, write_outputs
from mlcicd_course.markdown import markdown_table

if TYPE_CHECKING:
    from mlcicd_course.pipeline.run import PipelineRun

MARKER = "<!-- mlcicd-pipeline-run -->"
ICONS = {"passed": "✅ passed", "failed": "❌ failed", "skipped": "⏭️ skipped"}
REPORT_FILES = ("pipeline.md", "pipeline.json")


def pipeline_markdown(run: PipelineRun) -> str:
    """The run as markdown: the outcome in one line, then a table of the stages."""
    rows = [[r.name, ICONS[str(r.decision)], r.reason, f"{r.seconds:.2f}"]
            for r in run.results]
    versions = (f"Candidate: `{run.candidate or '—'}` · in production now: "
                f"`{run.production or '—'}`")
    return "\n".join([MARKER, "## ML pipeline", "", f"**{run.summary()}**", "", versions, "",
                      markdown_table(("stage", "decision", "reason", "seconds"), rows,
                                     "lllr"), ""])


def write_report(run: PipelineRun, report_dir: str | os.PathLike[str]) -> list[Path]:
    """Write pipeline.md and pipeline.json into `report_dir`, both or neither."""
    folder = Path(report_dir)
    return write_outputs({folder / REPORT_FILES[0]: pipeline_markdown(run),
                          folder / REPORT_FILES[1]: json_text(run.to_dict())})
