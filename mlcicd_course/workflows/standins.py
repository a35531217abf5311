"""Local stand-ins for the actions the course's workflows use (`STAND_INS`).

- actions/checkout copies the repository (the files git would check out; a `ref:` comes
  from `git archive` or from `RunOptions.trees`),
- actions/setup-python uses the current interpreter (the requested version is noted),
- actions/upload-artifact and download-artifact copy to and from the run's artifact
  folder, and refuse a second upload of the same name as v4+ does,
- actions/cache never hits,
- actions/github-script runs under Node.js against a small fake of the GitHub REST API
  (`fake_github`: issue comments, refused without the token's permission); without
  Node.js the step is reported as not run,
- aws-actions/configure-aws-credentials fails: OIDC needs GitHub and AWS.
"""

from __future__ import annotations

import io
import itertools
import json
import os
import re
import shutil
import subprocess
import sys
import tarfile
from collections.abc import Callable, Mapping
from pathlib import Path
from typing import Any

from mlcicd_course.workflows.fake_github import HARNESS
from mlcicd_course.workflows.repository import copy_files, git, repository_files
from mlcicd_course.workflows.shell import MINUTE, execute


class StepFailure(Exception):
    """A stand-in failed; the message is the step's output."""


class StepNotRun(Exception):
    """A stand-in could not run on this machine (not a failure); the message says why."""


class StandIns:
    """The stand-ins of one run: they share its repository, artifacts and fake GitHub API.

    Each stand-in takes the step's `with:` inputs (as text), the expression context, the
    step's environment and the job's workspace, and returns (outputs, note, output); it
    raises `StepFailure` when the action would fail and `StepNotRun` when it cannot run
    on this machine.
    """

    def __init__(self, repo: Path, trees: Mapping[str, Path], artifacts: Path,
                 api_state: Path) -> None:
        self.repo = repo
        self.trees = trees
        self.artifacts = artifacts
        self.api_state = api_state
        self._files_cache: dict[Path, list[str]] = {}
        self._artifact_ids = itertools.count(1)
        #: The scopes of the running job's token (`permissions.token_scopes`), which the
        #: fake GitHub API enforces.
        self.token: dict[str, str] = {}

    def checkout(self, inputs: Mapping[str, str], context: Mapping[str, Any],
                 env: Mapping[str, str], workspace: Path) -> tuple[dict, str, str]:
        """Copy the repository (git's files; a `ref:` via git archive) into the workspace."""
        repository = inputs.get("repository") or context["github"]["repository"]
        if repository.lower() != context["github"]["repository"].lower():
            raise StepFailure(f"checkout of another repository ({repository}) needs the "
                              "network; not available locally")
        target = (workspace / inputs.get("path", "")).resolve()
        if not target.is_relative_to(workspace.resolve()):
            raise StepFailure(f"checkout path {inputs.get('path')!r} is outside the workspace")
        target.mkdir(parents=True, exist_ok=True)
        ref = inputs.get("ref", "")
        if not ref:
            files = self._files(self.repo)
            copy_files(self.repo, files, target)
            return {"ref": context["github"]["ref"], "commit": context["github"]["sha"]}, (
                "copied the working tree"), ""
        if ref in self.trees:
            source = Path(self.trees[ref])
            files = self._files(source)
            copy_files(source, files, target)
            where = inputs.get("path") or "."
            return {"ref": ref, "commit": ref}, f"{where}: the folder given for this ref", ""
        commit = git(self.repo, "rev-parse", "--verify", "--quiet", f"{ref}^{{commit}}")
        if commit:
            done = subprocess.run(["git", "-C", str(self.repo), "archive", "--format=tar", commit],
                                  capture_output=True, timeout=300)
            if done.returncode == 0:
                with tarfile.open(fileobj=io.BytesIO(done.stdout)) as archive:
                    archive.extractall(target, filter="data")
                return {"ref": ref, "commit": commit}, (
                    f"{inputs.get('path') or '.'}: git archive of the ref"), ""
        raise StepFailure(f"ref {ref!r} is not in the local repository (pass a folder for it "
                          "with RunOptions.trees or --tree REF=DIR)")

    def setup_python(self, inputs: Mapping[str, str], context: Mapping[str, Any],
                     env: Mapping[str, str], workspace: Path) -> tuple[dict, str, str]:
        """Use this interpreter, whatever version is asked for (the request is noted)."""
        current = ".".join(map(str, sys.version_info[:3]))
        wanted = inputs.get("python-version", "")
        note = f"requested {wanted or 'the default'}, using this interpreter"
        return {"python-version": current, "python-path": sys.executable,
                "cache-hit": "false"}, note, ""

    def cache(self, inputs: Mapping[str, str], context: Mapping[str, Any],
              env: Mapping[str, str], workspace: Path) -> tuple[dict, str, str]:
        """Never hit: every run starts without a cache."""
        return {"cache-hit": "false"}, f"cache {inputs.get('key', '')!r}: always a miss locally", ""

    def upload_artifact(self, inputs: Mapping[str, str], context: Mapping[str, Any],
                        env: Mapping[str, str], workspace: Path) -> tuple[dict, str, str]:
        """Copy files into the run's artifact folder; refuse a name twice (v4+ rules)."""
        name = inputs.get("name") or "artifact"
        if re.search(r'[":<>|*?\\/\r\n]', name):
            raise StepFailure(f"artifact name {name!r} contains a character that is not allowed")
        target = self.artifacts / name
        if target.exists() and inputs.get("overwrite", "false").lower() != "true":
            raise StepFailure(f"an artifact named {name!r} already exists in this run; "
                              "artifacts are immutable since v4 (use a unique name or "
                              "overwrite: true)")
        files, root = _artifact_files(inputs.get("path", ""), workspace,
                                      inputs.get("include-hidden-files", "false") == "true")
        if not files:
            policy = inputs.get("if-no-files-found", "warn")
            message = f"no files found at {inputs.get('path', '')!r}; no artifact uploaded"
            if policy == "error":
                raise StepFailure(message)
            return {}, message if policy == "warn" else "", ""
        if target.exists():
            shutil.rmtree(target)
        for path in files:
            destination = target / path.relative_to(root)
            destination.parent.mkdir(parents=True, exist_ok=True)
            shutil.copy2(path, destination)
        artifact_id = str(next(self._artifact_ids))
        retention = inputs.get("retention-days", "")
        note = f"artifact {name!r}: {len(files)} file(s)" + (
            f", kept {retention} days" if retention else "")
        return {"artifact-id": artifact_id, "artifact-url": f"artifacts/{name}"}, note, ""

    def download_artifact(self, inputs: Mapping[str, str], context: Mapping[str, Any],
                          env: Mapping[str, str], workspace: Path) -> tuple[dict, str, str]:
        """Copy an artifact of this run (by name or pattern) into the workspace."""
        if inputs.get("run-id"):
            raise StepFailure("artifacts of other runs (run-id) need the GitHub API; not "
                              "available locally")
        target = workspace / inputs.get("path", "")
        name = inputs.get("name", "")
        if name:
            source = self.artifacts / name
            if not source.is_dir():
                raise StepFailure(f"Unable to download artifact(s): Artifact not found for "
                                  f"name: {name}")
            shutil.copytree(source, target, dirs_exist_ok=True)
            where = inputs.get("path", ".")
            return {"download-path": str(target)}, f"artifact {name!r} -> {where}", ""
        pattern = inputs.get("pattern", "*")
        names = sorted(p.name for p in self.artifacts.iterdir()
                       if p.is_dir() and re.fullmatch(_glob_regex(pattern), p.name))
        merge = inputs.get("merge-multiple", "false").lower() == "true"
        for item in names:
            shutil.copytree(self.artifacts / item, target if merge else target / item,
                            dirs_exist_ok=True)
        where = inputs.get("path", ".")
        return {"download-path": str(target)}, f"{len(names)} artifact(s) -> {where}", ""

    def github_script(self, inputs: Mapping[str, str], context: Mapping[str, Any],
                      env: Mapping[str, str], workspace: Path) -> tuple[dict, str, str]:
        """Run the script under Node.js with a fake GitHub API that checks the job's token."""
        node = shutil.which("node")
        if node is None:
            raise StepNotRun("not run: actions/github-script needs Node.js, which is not "
                             "installed here")
        temp = Path(env["RUNNER_TEMP"])
        harness = temp / "github_script_harness.js"
        harness.write_text(HARNESS, encoding="utf-8")
        script = temp / "github_script_body.js"
        script.write_text(inputs.get("script", ""), encoding="utf-8")
        github = context["github"]
        owner, _, repo = github["repository"].partition("/")
        pull_request = github["event"].get("pull_request") or {}
        ctx = {"repo": {"owner": owner, "repo": repo},
               "issue": {"owner": owner, "repo": repo, "number": pull_request.get("number")},
               "payload": github["event"], "eventName": github["event_name"],
               "sha": github["sha"], "ref": github["ref"], "workflow": github["workflow"],
               "job": github["job"], "actor": github["actor"], "runId": int(github["run_id"]),
               "runNumber": int(github["run_number"]), "apiUrl": github["api_url"],
               "serverUrl": github["server_url"]}
        context_file = temp / "github_script_context.json"
        context_file.write_text(json.dumps(ctx), encoding="utf-8")
        token_file = temp / "github_script_token.json"
        token_file.write_text(json.dumps(self.token), encoding="utf-8")
        code, output, timed_out = execute(
            [node, str(harness), str(self.api_state), str(script), str(context_file),
             str(token_file)],
            workspace, dict(env), 5 * MINUTE)
        if code != 0 or timed_out:
            raise StepFailure(output or f"github-script exited with {code}")
        calls = [line.split("::api::", 1)[1] for line in output.splitlines() if "::api::" in line]
        note = "github-script under node with the fake GitHub API" + (
            f": {', '.join(calls)}" if calls else "")
        return {}, note, output

    def configure_aws_credentials(self, inputs: Mapping[str, str], context: Mapping[str, Any],
                                  env: Mapping[str, str], workspace: Path
                                  ) -> tuple[dict, str, str]:
        """Fail: OIDC credentials need GitHub and AWS."""
        raise StepFailure("aws-actions/configure-aws-credentials needs GitHub's OIDC token "
                          "and AWS; not available locally")

    # -- helpers -----------------------------------------------------------------------

    def _files(self, source: Path) -> list[str]:
        source = source.resolve()
        if source not in self._files_cache:
            self._files_cache[source] = repository_files(source)
        return self._files_cache[source]

    def artifact_listing(self) -> dict[str, list[str]]:
        return {folder.name: sorted(str(p.relative_to(folder)) for p in folder.rglob("*")
                                    if p.is_file())
                for folder in sorted(self.artifacts.iterdir()) if folder.is_dir()}


STAND_INS: dict[str, Callable[..., tuple[dict, str, str]]] = {
    "actions/checkout": StandIns.checkout,
    "actions/setup-python": StandIns.setup_python,
    "actions/cache": StandIns.cache,
    "actions/upload-artifact": StandIns.upload_artifact,
    "actions/download-artifact": StandIns.download_artifact,
    "actions/github-script": StandIns.github_script,
    "aws-actions/configure-aws-credentials": StandIns.configure_aws_credentials,
}


def _glob_regex(pattern: str) -> str:
    return "".join(".*" if c == "*" else "." if c == "?" else re.escape(c) for c in pattern)


def _artifact_files(spec: str, workspace: Path, hidden: bool) -> tuple[list[Path], Path]:
    """Files named by an upload-artifact `path:` (lines, globs, `!` exclusions) and their root."""
    included: list[Path] = []
    excluded: set[Path] = set()
    roots: list[Path] = []
    for line in (part.strip() for part in spec.splitlines()):
        if not line:
            continue
        negate = line.startswith("!")
        pattern = line[1:] if negate else line
        has_glob = any(ch in pattern for ch in "*?[")
        base = workspace / pattern
        if has_glob:
            prefix = re.split(r"[*?\[]", pattern, maxsplit=1)[0]
            root = (workspace / prefix) if prefix.endswith("/") else (workspace / prefix).parent
            matches = [p for p in workspace.glob(pattern)]
            found = [f for m in matches for f in ([m] if m.is_file() else m.rglob("*"))
                     if f.is_file()]
        elif base.is_dir():
            root, found = base, [f for f in base.rglob("*") if f.is_file()]
        elif base.is_file():
            root, found = base.parent, [base]
        else:
            root, found = base.parent, []
        if negate:
            excluded.update(found)
            continue
        roots.append(root)
        included.extend(found)
    files = sorted({f for f in included if f not in excluded and (hidden or not any(
        part.startswith(".") for part in f.relative_to(workspace).parts))})
    common = Path(os.path.commonpath([str(r) for r in roots])) if roots else workspace
    return files, common
