"""`mlcicd registry`: register, promote, roll back, list and fetch model versions."""

from __future__ import annotations

import argparse
import json
import math
import sys
from collections.abc import Mapping
from typing import Any

from mlcicd_course.errors import UserInputError

EXIT_OK, EXIT_CONFLICT = 0, 1
DEFAULT_REGISTRY = "registry"


def register(subparsers: argparse._SubParsersAction) -> None:
    group = subparsers.add_parser(
        "registry", help="model registry: register, promote, roll back, list, history",
        description="Versioned models with their sha256, metrics and stages (candidate, "
                    "staging, production, archived), kept in a folder or under "
                    "s3://bucket/prefix (boto3 with the standard AWS settings; "
                    "AWS_ENDPOINT_URL points it at a local endpoint). Exit 0 ok, 1 another "
                    "process changed the registry first (nothing written: retry), 2 bad "
                    "input.")
    commands = group.add_subparsers(dest="registry_command", metavar="SUBCOMMAND",
                                    parser_class=type(group), required=True)
    where = argparse.ArgumentParser(add_help=False)
    where.add_argument("--registry", default=DEFAULT_REGISTRY, metavar="LOCATION",
                       help="a folder or s3://bucket/prefix (default: %(default)s/)")
    where.add_argument("--json", action="store_true", help="print the result as JSON")
    change = argparse.ArgumentParser(add_help=False)
    change.add_argument("--by", required=True, help="who makes the change (name or CI run)")
    change.add_argument("--reason", required=True, help="why, in a few words")

    add = commands.add_parser(
        "register", parents=[where, change], help="add a model as the next version",
        description="Store MODEL.joblib (saved by `mlcicd train`, its .meta.json beside it "
                    "with a matching sha256) as the next version, a candidate. Metrics and "
                    "data fingerprint default to the ones in the model's metadata. Creates "
                    "the registry if there is none.")
    add.add_argument("model", metavar="MODEL.joblib", help="the model file")
    add.add_argument("--metrics", metavar="METRICS.json",
                     help="numeric metrics to record: a JSON object, or the file of "
                          "`mlcicd evaluate` (its \"metrics\" entry)")
    add.add_argument("--data-fingerprint", metavar="TEXT",
                     help="the training data's fingerprint (default: its sha256 in the "
                          "model's metadata)")
    add.add_argument("--parent", metavar="VERSION",
                     help="the version this model was trained to replace")
    add.set_defaults(handler=_register)

    promote = commands.add_parser(
        "promote", parents=[where, change], help="move a version to a stage",
        description="Move VERSION to STAGE. Staging and production hold one version each: "
                    "the version there moves back to candidate (staging) or to archived "
                    "(production). Nothing is deleted.")
    promote.add_argument("version", metavar="VERSION", help="e.g. v3")
    promote.add_argument("stage", metavar="STAGE",
                         help="candidate, staging, production or archived")
    promote.set_defaults(handler=_promote)

    rollback = commands.add_parser(
        "rollback", parents=[where, change], help="undo the last promotion into a stage",
        description="Put back the version that held STAGE (staging or production) before "
                    "its last promotion; the version there moves out as if replaced.")
    rollback.add_argument("stage", metavar="STAGE", help="staging or production")
    rollback.set_defaults(handler=_rollback)

    listing = commands.add_parser("list", parents=[where], help="every version with its stage",
                                  description="Every version, oldest first: stage, creation, "
                                              "author, sha256 prefix and metrics.")
    listing.set_defaults(handler=_list)

    history = commands.add_parser("history", parents=[where], help="every change, oldest first",
                                  description="Every registration and stage change: when, "
                                              "what, who and why.")
    history.set_defaults(handler=_history)

    fetch = commands.add_parser(
        "fetch", parents=[where], help="write a version's model file into a folder",
        description="Write VERSION (or the version in --stage) into --dest as "
                    "model-VERSION.joblib with its metadata, both checked against the "
                    "registered sha256 first.")
    fetch.add_argument("version", metavar="VERSION", nargs="?", help="e.g. v3")
    fetch.add_argument("--stage", choices=("staging", "production"),
                       help="fetch the version in this stage instead")
    fetch.add_argument("--dest", required=True, metavar="DIR", help="output folder")
    fetch.set_defaults(handler=_fetch)


# ---------------------------------------------------------------------- handlers


def _register(args: argparse.Namespace) -> int:
    from mlcicd_course import modelstore

    meta = modelstore.read_metadata(args.model)
    metrics = (_numeric_metrics(_read_metrics(args.metrics), args.metrics) if args.metrics
               else _numeric_metrics(meta.get("metrics", {}), f"{args.model} metadata"))
    if args.metrics and not metrics:
        raise UserInputError(f"{args.metrics}: no numeric metrics in it")
    fingerprint = args.data_fingerprint or _recorded_fingerprint(meta, args.model)
    registry = open_location(args.registry, must_exist=False)
    version = _changing(lambda: registry.register(
        args.model, metrics=metrics, data_fingerprint=fingerprint, parent=args.parent,
        by=args.by, reason=args.reason))
    if version is None:
        return EXIT_CONFLICT
    _print(args, version.to_dict(),
           f"registered {version.version} in {registry.location} "
           f"(sha256 {version.sha256[:12]}, {version.stage})")
    return EXIT_OK


def _promote(args: argparse.Namespace) -> int:
    registry = open_location(args.registry)
    change = _changing(lambda: registry.promote(args.version, args.stage, by=args.by,
                                                reason=args.reason))
    if change is None:
        return EXIT_CONFLICT
    _print(args, change.to_dict(), change.line())
    return EXIT_OK


def _rollback(args: argparse.Namespace) -> int:
    registry = open_location(args.registry)
    change = _changing(lambda: registry.rollback(args.stage, by=args.by, reason=args.reason))
    if change is None:
        return EXIT_CONFLICT
    _print(args, change.to_dict(), change.line())
    return EXIT_OK


def _list(args: argparse.Namespace) -> int:
    versions = open_location(args.registry).versions()
    rows = [(v.version, v.stage, v.created_at, v.created_by, v.sha256[:12],
             " ".join(f"{name}={value:.4g}" for name, value in v.metrics.items()))
            for v in versions]
    _print(args, [v.to_dict() for v in versions],
           _table(("version", "stage", "created", "by", "sha256", "metrics"), rows))
    return EXIT_OK


def _history(args: argparse.Namespace) -> int:
    changes = open_location(args.registry).history()
    _print(args, [c.to_dict() for c in changes], "\n".join(c.line() for c in changes))
    return EXIT_OK


def _fetch(args: argparse.Namespace) -> int:
    from mlcicd_course.registry import RegistryError

    if (args.version is None) == (args.stage is None):
        raise UserInputError("give either VERSION or --stage")
    registry = open_location(args.registry)
    version = args.version
    if args.stage:
        held = registry.current(args.stage)
        if held is None:
            raise RegistryError(f"no version in {args.stage} in {registry.location}")
        version = held.version
    path = registry.fetch(version, args.dest)
    _print(args, {"version": version, "path": str(path)}, f"wrote {path} ({version})")
    return EXIT_OK


# ---------------------------------------------------------------------- helpers


def open_location(location: str, *, must_exist: bool = True) -> Any:
    """The registry at `location`; for s3:// a boto3 client from the AWS environment."""
    from mlcicd_course.registry import RegistryError, open_registry

    client = None
    if location.startswith("s3://"):
        import boto3

        try:
            client = boto3.session.Session().client("s3")
        except Exception as err:  # noqa: BLE001 - a bad AWS setting is the user's input
            raise RegistryError(f"cannot make an S3 client from the AWS settings: "
                                f"{str(err).splitlines()[0]}") from None
    registry = open_registry(location, s3_client=client)
    if must_exist and not registry.exists():
        raise RegistryError(f"no registry at {registry.location} (`mlcicd registry "
                            "register` creates one; --registry names another)")
    return registry


def _changing(change: Any) -> Any:
    """Run a registry change; a lost race is one line on stderr and None (exit 1)."""
    from mlcicd_course.registry import ConflictError

    try:
        return change()
    except ConflictError as err:
        print(f"mlcicd registry: conflict: {err}", file=sys.stderr)
        return None


def _read_metrics(path: str) -> Any:
    from mlcicd_course.fileio import read_json

    data = read_json(path, what="metrics")
    if isinstance(data, Mapping) and isinstance(data.get("metrics"), Mapping):
        return data["metrics"]
    return data


def _numeric_metrics(data: Any, source: str) -> dict[str, float]:
    """The finite numbers of a JSON object (other entries, e.g. lists or null, skipped)."""
    if not isinstance(data, Mapping):
        raise UserInputError(f"{source}: metrics must be a JSON object of name: number")
    return {str(name): float(value) for name, value in data.items()
            if isinstance(value, int | float) and not isinstance(value, bool)
            and math.isfinite(value)}


def _recorded_fingerprint(meta: Mapping[str, Any], model: str) -> str:
    recorded = meta.get("training_data")
    if isinstance(recorded, Mapping) and isinstance(recorded.get("sha256"), str):
        return recorded["sha256"]
    raise UserInputError(f"{model}: its metadata records no training-data sha256: give "
                         "--data-fingerprint")


def _print(args: argparse.Namespace, data: Any, text: str) -> None:
    print(json.dumps(data, indent=2, sort_keys=True) if args.json else text)


def _table(header: tuple[str, ...], rows: list[tuple[str, ...]]) -> str:
    widths = [max(len(str(cell)) for cell in column) for column in zip(header, *rows,
                                                                       strict=True)]
    return "\n".join("  ".join(str(cell).ljust(width) for cell, width in zip(
        row, widths, strict=True)).rstrip() for row in (header, *rows))
