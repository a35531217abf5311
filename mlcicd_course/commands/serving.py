"""`mlcicd serve` (a model server) and `mlcicd route` (a router before model servers)."""

from __future__ import annotations

import argparse
import os
import sys
import tempfile
from pathlib import Path

from mlcicd_course.errors import UserInputError

TOKEN_FILE_HELP = ("file to write the admin token to, readable by you only (mode 0600; "
                   "default: mlcicd-router-PORT.token in the temporary folder); removed "
                   "when the router stops")


def register(subparsers: argparse._SubParsersAction) -> None:
    serve = subparsers.add_parser(
        "serve", help="serve a saved model over HTTP on 127.0.0.1",
        description="Serve MODEL.joblib (saved by `mlcicd train`, sha256-checked before "
                    "loading) on http://127.0.0.1:PORT: POST /predict, GET /health/live, "
                    "/health/ready, /version, /metrics. Prints one line with the URL, then "
                    "serves until Ctrl-C. A model that fails its sha256 check: exit 2, "
                    "nothing started. The knobs make a deliberately bad release.")
    serve.add_argument("model", metavar="MODEL.joblib", help="the model file")
    serve.add_argument("--port", type=int, default=8000, help="port, 0 = any free one "
                       "(%(default)s)")
    serve.add_argument("--version", default="", metavar="NAME",
                       help="version name in answers and metrics (default: the file's stem)")
    serve.add_argument("--sha256", default=None, metavar="HEX",
                       help="refuse a model file whose sha256 is not this one")
    serve.add_argument("--max-batch-rows", type=int, default=1000, metavar="N",
                       help="largest batch /predict accepts (%(default)s)")
    knobs = serve.add_argument_group("teaching knobs (fixed at start)")
    knobs.add_argument("--added-latency-ms", type=float, default=0.0, metavar="MS",
                       help="delay every prediction by MS milliseconds")
    knobs.add_argument("--error-rate", type=float, default=0.0, metavar="P",
                       help="answer this share of predictions with 500 (0-1)")
    knobs.add_argument("--flip-rate", type=float, default=0.0, metavar="P",
                       help="give this share of predicted rows another class (0-1)")
    knobs.add_argument("--seed", type=int, default=0, help="seed of the knobs' draws")
    _parent_flag(serve)
    serve.set_defaults(handler=_serve)

    route = subparsers.add_parser(
        "route", help="route traffic between model servers (blue-green, canary, ...)",
        description="Start a router on http://127.0.0.1:PORT in front of the model servers "
                    "named in a routes file (YAML: backends, table, settings; see "
                    "mlcicd_course.serving.settings.load_routes). Prints one line with the "
                    "URL and the path of the file holding the admin API's bearer token. "
                    "A malformed routes file: exit 2, nothing started.")
    route.add_argument("--config", required=True, metavar="routes.yaml", help="routes file")
    route.add_argument("--port", type=int, default=8080, help="port, 0 = any free one "
                       "(%(default)s)")
    route.add_argument("--token-file", default=None, metavar="PATH", help=TOKEN_FILE_HELP)
    _parent_flag(route)
    route.set_defaults(handler=_route)


def _parent_flag(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--exit-with-parent", action="store_true",
                        help="stop when standard input closes (used by the course's "
                             "context managers, so a server never outlives its notebook)")


def _serve(args: argparse.Namespace) -> int:
    from mlcicd_course import modelstore
    from mlcicd_course.serving.settings import ServerSettings

    settings = ServerSettings(
        model_path=Path(args.model), version=args.version, expected_sha256=args.sha256,
        max_batch_rows=args.max_batch_rows, added_latency_ms=args.added_latency_ms,
        error_rate=args.error_rate, flip_rate=args.flip_rate, seed=args.seed)
    loaded = modelstore.load_model(settings.model_path, expected_sha256=settings.expected_sha256)
    # The web framework and server are imported only once the model is known to be good.
    from mlcicd_course.serving import runner
    from mlcicd_course.serving.app import create_app

    app = create_app(settings, loaded=loaded)
    sock = runner.listen(args.port)
    knobs = ", ".join(f"{k}={v:g}" for k, v in settings.knobs.items()) or "none"
    print(f"serving {settings.version} ({loaded.path.name}, sha256 {loaded.sha256[:12]}, "
          f"knobs: {knobs}) on {runner.url_of(sock)}", flush=True)
    runner.serve(app, sock, exit_with_parent=args.exit_with_parent)
    return _stopped(args)


def _route(args: argparse.Namespace) -> int:
    from mlcicd_course.serving.settings import load_routes

    settings = load_routes(args.config)
    from mlcicd_course.serving import runner
    from mlcicd_course.serving.router import Router

    sock = runner.listen(args.port)
    port = sock.getsockname()[1]
    token_file = Path(args.token_file or Path(tempfile.gettempdir()) /
                      f"mlcicd-router-{port}.token")
    router = Router(settings)
    try:
        write_secret(token_file, router.token)
    except UserInputError:
        sock.close()
        raise
    try:
        print(f"routing {', '.join(f'{k}={v}' for k, v in settings.table.weights.items())} "
              f"({settings.table.mode}) on {runner.url_of(sock)} "
              f"(admin token in {token_file})", flush=True)
        runner.serve(router, sock, exit_with_parent=args.exit_with_parent)
    finally:
        token_file.unlink(missing_ok=True)
    return _stopped(args)


def _stopped(args: argparse.Namespace) -> int:
    """Exit code 0 after a clean stop; under a context manager, exit at once.

    The server has shut down and has nothing left to write. Python's own teardown of
    the scientific libraries takes about 2 s, which a notebook would wait for at
    every stop, so a child of `lifecycle` skips it.
    """
    if args.exit_with_parent:
        sys.stdout.flush()
        sys.stderr.flush()
        os._exit(0)
    return 0


def write_secret(path: Path, text: str) -> None:
    """Write `text` to a new file only its owner can read (0600 on POSIX)."""
    try:
        path.unlink(missing_ok=True)
        fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
        with os.fdopen(fd, "w", encoding="utf-8") as handle:
            handle.write(text + "\n")
    except OSError as err:
        raise UserInputError(f"cannot write the token file {path}: {err.strerror}") from None
