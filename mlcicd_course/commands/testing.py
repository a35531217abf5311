"""`mlcicd train`, `evaluate`, `compare`: the testing chapter's model commands.

Exit codes: 0 ok; 1 a gate failed (compare); 2 bad input (missing or unreadable file,
malformed CSV or YAML, missing or unexpected columns, wrong dtypes or missing labels where
a model needs them, a corrupt model).
Output paths are checked before any work (a folder, an input, a parent that is a file, a
folder without write access: exit 2), and all outputs are written together at the end,
all or nothing; on exit 2 the error line is the only thing printed.
"""

from __future__ import annotations

import argparse
from pathlib import Path

from mlcicd_course import comparison, evaluation, modelstore, reporting, training
from mlcicd_course.fileio import check_outputs, json_text, read_csv, write_outputs


def register(subparsers: argparse._SubParsersAction) -> None:
    train = subparsers.add_parser(
        "train", help="train a model from a YAML config",
        description="Train the pipeline described by a YAML config on a CSV file, with "
                    "cross-validation; write the model and MODEL.meta.json beside it "
                    "(sha256, versions, parameters, data fingerprint, metrics).")
    train.add_argument("--data", required=True, metavar="TRAIN.csv")
    train.add_argument("--config", required=True, metavar="CONFIG.yaml")
    train.add_argument("--out", required=True, metavar="MODEL.joblib")
    train.add_argument("--metrics", metavar="PATH", help="also write training metrics as JSON")
    train.set_defaults(handler=_train)

    evaluate = subparsers.add_parser(
        "evaluate", help="evaluate a model on labelled data",
        description="Evaluate a saved model (sha256 verified before loading) on labelled "
                    "data: accuracy, precision, recall, F1, ROC AUC, confusion matrix, "
                    "prediction distribution, metrics per slice.")
    evaluate.add_argument("--model", required=True, metavar="MODEL.joblib")
    evaluate.add_argument("--data", required=True, metavar="TEST.csv")
    evaluate.add_argument("--out", required=True, metavar="METRICS.json")
    evaluate.add_argument("--markdown", metavar="PATH", help="also write a markdown summary")
    evaluate.set_defaults(handler=_evaluate)

    compare = subparsers.add_parser(
        "compare", help="baseline vs candidate on the same data, with gates (exit 1 = fail)",
        description="Compare a candidate with a baseline on the same test data: metric "
                    "deltas, gates, and McNemar's paired test when both are models. Each "
                    "side is a model file or a metrics JSON from `mlcicd evaluate` on the "
                    "same data. Exit 0 all gates pass, 1 a gate failed, 2 bad input.")
    compare.add_argument("--baseline", required=True, metavar="MODEL_OR_METRICS")
    compare.add_argument("--candidate", required=True, metavar="MODEL_OR_METRICS")
    compare.add_argument("--data", required=True, metavar="TEST.csv")
    compare.add_argument("--out", required=True, metavar="COMPARISON.json")
    compare.add_argument("--markdown", metavar="REPORT.md",
                         help="PR comment (starts with the marker "
                              f"{reporting.COMPARISON_MARKER})")
    compare.add_argument("--summary", metavar="PATH",
                         help="longer markdown for a job summary (slices, confusion matrices)")
    compare.add_argument("--min-accuracy", type=float, default=None, metavar="X",
                         help="gate: candidate accuracy >= X (default: no minimum)")
    compare.add_argument("--max-regression", type=float,
                         default=comparison.DEFAULT_MAX_REGRESSION, metavar="Y",
                         help="gate: candidate accuracy >= baseline accuracy - Y (%(default)s)")
    compare.add_argument("--alpha", type=float, default=comparison.DEFAULT_ALPHA,
                         help="significance level of the paired test (%(default)s)")
    compare.set_defaults(handler=_compare)


def _model_inputs(option: str, path: str) -> list[tuple[str, str | Path]]:
    """A model given on the command line and its metadata sidecar, as named inputs."""
    return [(option, path), (f"{option} metadata", modelstore.metadata_path(path))]


def _train(args: argparse.Namespace) -> int:
    check_outputs(("--out", args.out), ("--out metadata", modelstore.metadata_path(args.out)),
                  ("--metrics", args.metrics),
                  inputs=[("--data", args.data), ("--config", args.config)])
    config = training.load_config(args.config)
    frame = read_csv(args.data, what="training data")
    trained = training.train(frame, config)
    files, metadata = trained.files(args.out)
    metrics = trained.metrics()
    if args.metrics:
        files[Path(args.metrics)] = json_text({
            "kind": "mlcicd-training",
            "model": {"file": Path(args.out).name, "sha256": metadata["sha256"],
                      "model_type": config.model_type},
            "training_data": metadata["training_data"],
            "metrics": metrics,
        })
    write_outputs(files)
    print(f"trained {config.model_type} on {len(frame)} rows: cross-validated accuracy "
          f"{metrics['cv_accuracy_mean']:.3f} +/- {metrics['cv_accuracy_std']:.3f} "
          f"({config.cv_folds} folds), training accuracy {metrics['train_accuracy']:.3f}")
    for warning in trained.warnings:
        print(f"warning: {warning}")
    print(f"wrote {args.out} and {modelstore.metadata_path(args.out).name} "
          f"(sha256 {metadata['sha256'][:12]})")
    return 0


def _evaluate(args: argparse.Namespace) -> int:
    check_outputs(("--out", args.out), ("--markdown", args.markdown),
                  inputs=[*_model_inputs("--model", args.model), ("--data", args.data)])
    loaded = modelstore.load_model(args.model)
    frame = read_csv(args.data, what="test data")
    result = evaluation.evaluate(loaded, frame)
    data = result.to_dict()
    files: dict[str, str] = {args.out: json_text(data)}
    if args.markdown:
        files[args.markdown] = reporting.evaluation_markdown(data)
    write_outputs(files)
    metrics = ", ".join(f"{k} {reporting.fmt(v)}" for k, v in result.metrics.items())
    print(f"{args.model} on {result.rows} rows of {args.data}: {metrics}")
    for name, (saved, running) in loaded.version_differences.items():
        print(f"warning: model saved with {name} {saved}, running {running}")
    return 0


def _compare(args: argparse.Namespace) -> int:
    check_outputs(("--out", args.out), ("--markdown", args.markdown),
                  ("--summary", args.summary),
                  inputs=[*_model_inputs("--baseline", args.baseline),
                          *_model_inputs("--candidate", args.candidate), ("--data", args.data)])
    frame = read_csv(args.data, what="test data")
    baseline = comparison.evaluation_from(args.baseline, frame, what="baseline")
    candidate = comparison.evaluation_from(args.candidate, frame, what="candidate")
    result = comparison.compare(baseline, candidate, min_accuracy=args.min_accuracy,
                                max_regression=args.max_regression, alpha=args.alpha)
    files = {args.out: json_text(result.to_dict())}
    if args.markdown:
        files[args.markdown] = reporting.comparison_comment(result)
    if args.summary:
        files[args.summary] = reporting.comparison_summary(result)
    write_outputs(files)
    b_acc = result.baseline["metrics"]["accuracy"]
    c_acc = result.candidate["metrics"]["accuracy"]
    print(f"{result.verdict.upper()}: baseline accuracy {b_acc:.3f}, candidate {c_acc:.3f} "
          f"({result.deltas['accuracy']:+.3f}) on {len(frame)} rows")
    for reason in result.reasons():
        print(f"  {reason}")
    if result.paired_test is None:
        print(f"  paired test {result.paired_test_note}")
    else:
        print(f"  paired test ({reporting.fmt_p(result.paired_test.p_value)}): "
              f"{result.paired_test_note}")
    for warning in result.warnings:
        print(f"warning: {warning}")
    return 0 if result.passed else 1
