"""A small, fast pipeline file for the tests: config/pipeline.yaml with fewer rows and folds."""

from __future__ import annotations

import copy
from pathlib import Path
from typing import Any

import yaml

ROOT = Path(__file__).resolve().parents[1]
COURSE_CONFIG = ROOT / "config" / "pipeline.yaml"


def course_config() -> dict[str, Any]:
    """The course's pipeline file, parsed."""
    return yaml.safe_load(COURSE_CONFIG.read_text(encoding="utf-8"))


def fast_config(folder: Path, **changes: Any) -> dict[str, Any]:
    """The course's file with small data, two folds and smaller live runs; `changes`
    replace top-level sections (merged one level deep)."""
    data = copy.deepcopy(course_config())
    model = yaml.safe_load((ROOT / "config" / "model.yaml").read_text(encoding="utf-8"))
    model["cross_validation"] = {"folds": 2}
    (folder / "model.yaml").write_text(yaml.safe_dump(model), encoding="utf-8")
    data["training"]["config"] = str(folder / "model.yaml")
    data["schema"] = str(ROOT / "config" / "schema.yaml")
    data["data"].update(months=2, rowsPerMonth=400)
    data["watch"].update(requests=60, windowRequests=30)
    for key, value in changes.items():
        if isinstance(value, dict) and isinstance(data.get(key), dict):
            data[key] = {**data[key], **value}
        else:
            data[key] = value
    return data


def write_config(folder: Path, **changes: Any) -> Path:
    """`fast_config` written to folder/pipeline.yaml."""
    path = folder / "pipeline.yaml"
    path.write_text(yaml.safe_dump(fast_config(folder, **changes), sort_keys=False),
                    encoding="utf-8")
    return path
