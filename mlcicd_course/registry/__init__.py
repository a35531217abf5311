"""A model registry with a local-folder or S3 backend (see `registry.registry`)."""

from __future__ import annotations

from typing import Any

from mlcicd_course.registry.errors import ConflictError, RegistryError
from mlcicd_course.registry.mlflow_mapping import MLFLOW_MAPPING
from mlcicd_course.registry.registry import (
    DEPLOYED_STAGES,
    STAGES,
    ModelRegistry,
    ModelVersion,
    StageChange,
)
from mlcicd_course.registry.store import Backend, Blob, LocalBackend, S3Backend

__all__ = [
    "DEPLOYED_STAGES", "MLFLOW_MAPPING", "STAGES", "Backend", "Blob", "ConflictError",
    "LocalBackend", "ModelRegistry", "ModelVersion", "RegistryError", "S3Backend",
    "StageChange", "open_registry",
]


def open_registry(location: str, *, s3_client: Any = None) -> ModelRegistry:
    """The registry at `location`: a folder path, or `s3://bucket/prefix` read and written
    through `s3_client` (a boto3 S3 client, required for S3)."""
    if location.startswith("s3://"):
        bucket, _, prefix = location.removeprefix("s3://").partition("/")
        if not bucket:
            raise RegistryError(f"no bucket in {location!r}: expected s3://bucket/prefix")
        if s3_client is None:
            raise RegistryError(f"{location}: an S3 registry needs a boto3 S3 client")
        return ModelRegistry(S3Backend(s3_client, bucket, prefix))
    if "://" in location:
        raise RegistryError(f"unsupported registry location {location!r}: give a folder "
                            "or s3://bucket/prefix")
    if not location:
        raise RegistryError("the registry location is empty: give a folder "
                            "or s3://bucket/prefix")
    return ModelRegistry(LocalBackend(location))
