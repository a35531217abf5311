"""`mlcicd deploy canary` (run a canary release) and `mlcicd deploy export` (Kubernetes YAML)."""

from __future__ import annotations

import argparse
import json
import sys
from typing import Any

from mlcicd_course.errors import UserInputError

EXIT_PROMOTED, EXIT_ROLLED_BACK = 0, 1


def register(subparsers: argparse._SubParsersAction) -> None:
    deploy = subparsers.add_parser(
        "deploy", help="canary releases: run one, or export it for Kubernetes",
        description="Run a canary release described in a YAML file, or write it out as "
                    "Argo Rollouts or Flagger manifests. A bad file: exit 2, one line naming "
                    "the key.")
    commands = deploy.add_subparsers(dest="deploy_command", metavar="SUBCOMMAND",
                                     parser_class=type(deploy), required=True)
    canary = commands.add_parser(
        "canary", help="run a canary release: exit 0 promoted, 1 rolled back",
        description="Run the canary release of --config with the course's controller: "
                    "on simulated traffic (--simulate, the default: a day of requests in "
                    "about a second) or against model servers and a router started on "
                    "127.0.0.1 (--live, needs the file's live section). Prints the "
                    "decisions; exit 0 when the canary was promoted, 1 when it was rolled "
                    "back or never finished, 2 for a bad config.")
    canary.add_argument("--config", required=True, metavar="canary.yaml", help="canary file")
    mode = canary.add_mutually_exclusive_group()
    mode.add_argument("--simulate", action="store_true", help="simulated traffic (default)")
    mode.add_argument("--live", action="store_true",
                      help="real requests through a router on 127.0.0.1 (bounded run)")
    canary.add_argument("--seed", type=int, default=None,
                        help="seed of the simulation (default: the file's simulation.seed)")
    canary.add_argument("--json", action="store_true", help="print the outcome as JSON")
    canary.set_defaults(handler=_canary)

    export = commands.add_parser(
        "export", help="write the canary as Argo Rollouts or Flagger manifests",
        description="Print the canary release of --config as Kubernetes manifests: an Argo "
                    "Rollout with its AnalysisTemplates, or a Flagger Canary with its "
                    "MetricTemplates (multi-document YAML). Steps Flagger cannot express "
                    "(manual pauses, inline analysis, uneven pauses): exit 2.")
    export.add_argument("--format", required=True, choices=("argo-rollouts", "flagger"))
    export.add_argument("--config", required=True, metavar="canary.yaml", help="canary file")
    export.add_argument("--name", default="churn-model",
                        help="name of the Kubernetes objects (%(default)s)")
    export.set_defaults(handler=_export)


def _canary(args: argparse.Namespace) -> int:
    from mlcicd_course.rollout.canary import CanaryPhase, CanaryRollout
    from mlcicd_course.rollout.canary_config import load_canary
    from mlcicd_course.rollout.simulation import history_table

    config = load_canary(args.config)
    rollout = CanaryRollout(config.spec)
    if args.live:
        run = _live(config, rollout, args)
        outcome = run.to_dict()
        phase, history = run.phase, run.controller.history
    else:
        from mlcicd_course.rollout.canary_sim import simulate_canary

        seed = config.seed if args.seed is None else args.seed
        sim = simulate_canary(rollout, config.traffic, until_s=config.hours * 3600, seed=seed)
        outcome = sim.to_dict()
        phase, history = CanaryPhase(sim.final_phase), sim.history
    if args.json:
        print(json.dumps(outcome, indent=2, default=str))
    else:
        table = history_table(history)
        decisions = table[table["accepted"]].fillna("")
        print(decisions[["at", "from", "to", "event", "reason"]].to_string(index=False))
        print(f"canary {config.spec.canary}: {phase}")
    return EXIT_PROMOTED if phase is CanaryPhase.COMPLETED else EXIT_ROLLED_BACK


def _live(config: Any, rollout: Any, args: argparse.Namespace) -> Any:
    from mlcicd_course import datasets
    from mlcicd_course.rollout.canary_live import live_settings, run_from_config
    from mlcicd_course.serving.lifecycle import ServerError

    spec = config.spec
    settings = live_settings(config.live, (spec.stable, spec.canary), args.config)
    for version, path in settings.models.items():
        if not path.is_file():
            raise UserInputError(f"{args.config}: live.models.{version}: no such file {path}")
    rows = datasets.sample(200, seed=config.seed if args.seed is None else args.seed)
    try:
        return run_from_config(settings, rollout,
                               rows=rows.drop(columns=[datasets.TARGET]).to_dict("records"))
    except ServerError as err:
        raise UserInputError(f"{args.config}: live: {err}") from None


def _export(args: argparse.Namespace) -> int:
    from mlcicd_course.rollout.canary_config import load_canary
    from mlcicd_course.rollout.canary_export import export_yaml

    config = load_canary(args.config)
    try:
        text = export_yaml(config.spec, args.format, name=args.name)
    except ValueError as err:
        raise UserInputError(f"{args.config}: {err}") from None
    sys.stdout.write(text)
    return 0
