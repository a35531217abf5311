"""Policy checks on GitHub Actions workflows (mlcicd_course.workflows).

Every workflow in .github/workflows passes every rule; every rule rejects its own
deliberately bad fixture (tests/fixtures/workflows/bad_<rule>.yml) and nothing else
fires on it, so each check is shown to work on its own.
"""

from __future__ import annotations

import json
import re
from pathlib import Path

import pytest
import yaml

from mlcicd_course import workflows
from mlcicd_course.errors import UserInputError
from mlcicd_course.workflows import job_graph
from mlcicd_course.workflows.rules_pins import pins
from tests.conftest import ROOT

WORKFLOW_DIR = ROOT / ".github" / "workflows"
WORKFLOWS = sorted([*WORKFLOW_DIR.glob("*.yml"), *WORKFLOW_DIR.glob("*.yaml")])
FIXTURES = ROOT / "tests" / "fixtures" / "workflows"
BAD = sorted(FIXTURES.glob("bad_*.yml"))
SEED = sorted((FIXTURES / "seed").glob("*.yml"))
PINNED = [*WORKFLOWS, ROOT / "classroom" / "autograde.yml"]
TAUGHT = ("ml-ci", "data-validation", "scheduled-training", "pr-model-comparison",
          "ml-pipeline")


def names(paths: list[Path]) -> list[str]:
    return [p.name for p in paths]


def rule_of(fixture: Path) -> str:
    return fixture.stem.removeprefix("bad_").replace("_", "-")


HARDENED = """\
name: ok
on:
  push:
    branches: [main]
permissions:
  contents: read
jobs:
  build:
    runs-on: ubuntu-24.04
    timeout-minutes: 10
    steps:
      - uses: actions/checkout@3d3c42e5aac5ba805825da76410c181273ba90b1 # v7.0.1
        with:
          persist-credentials: false
      - run: echo hello
"""


def findings(text: str, rule: str | None = None) -> list[workflows.Finding]:
    found = workflows.check_workflow(workflows.parse_workflow(text, "inline.yml"))
    return [f for f in found if rule is None or f.rule == rule]


# ---- the repository's workflows ---------------------------------------------------------

def test_the_taught_workflows_and_dependabot_are_there():
    assert {p.stem for p in WORKFLOWS} >= set(TAUGHT)
    dependabot = yaml.safe_load((ROOT / ".github" / "dependabot.yml").read_text())
    ecosystems = {u["package-ecosystem"]: u for u in dependabot["updates"]}
    assert set(ecosystems) == {"github-actions", "pip"}
    assert all(u["cooldown"]["default-days"] >= 3 for u in ecosystems.values())


@pytest.mark.parametrize("path", WORKFLOWS, ids=names(WORKFLOWS))
def test_every_workflow_passes_every_policy_rule(path):
    found = workflows.check_workflow(workflows.load_workflow(path))
    assert found == [], "\n".join(map(str, found))


PIN_RULES = ["unpinned-uses", "version-comment", "known-sha", "consistent-pins"]


def test_the_workflow_files_are_the_record_of_the_pins():
    """Every pin is a full SHA with its version, and the same in every file, the classroom
    template included (Dependabot does not update it, so a drift must fail here)."""
    loaded = [workflows.load_workflow(p) for p in PINNED]
    found = workflows.check_workflows(loaded, PIN_RULES)
    assert found == [], "\n".join(map(str, found))
    pinned = {action for action, *_ in pins(loaded)}
    assert {"actions/checkout", "actions/setup-python", "actions/upload-artifact"} <= pinned


def copies(tmp_path: Path, old: str, new: str, names: tuple[str, ...] = ()) -> list[Path]:
    """The workflows and the classroom template copied to tmp_path, `old` -> `new` in the
    files whose name is in `names` (all when empty)."""
    copied = []
    for path in PINNED:
        text = path.read_text()
        if not names or path.name in names:
            text = text.replace(old, new)
        copied.append(tmp_path / path.name)
        copied[-1].write_text(text)
    return copied


CHECKOUT_PIN = "actions/checkout@3d3c42e5aac5ba805825da76410c181273ba90b1 # v7.0.1"
BUMPED_PIN = "actions/checkout@" + "ab" * 20 + " # v7.1.0"


def test_a_dependabot_update_of_every_workflow_passes_on_its_own(tmp_path):
    files = copies(tmp_path, CHECKOUT_PIN, BUMPED_PIN)
    assert sum(BUMPED_PIN in f.read_text() for f in files) == len(files)
    found = workflows.check_workflows([workflows.load_workflow(f) for f in files])
    assert found == [], "\n".join(map(str, found))


def test_a_pin_left_behind_in_the_classroom_template_is_caught(tmp_path):
    bumped = tuple(p.name for p in WORKFLOWS)  # what Dependabot updates: not classroom/
    files = copies(tmp_path, CHECKOUT_PIN, BUMPED_PIN, bumped)
    found = workflows.check_workflows([workflows.load_workflow(f) for f in files], PIN_RULES)
    assert {f.rule for f in found} == {"consistent-pins"}
    assert {Path(f.path).name for f in found} == {"autograde.yml"}, found
    assert "v7.0.1 here but to" in found[0].message


@pytest.mark.parametrize("stem", TAUGHT)
def test_taught_run_steps_are_one_command_each(stem):
    """Each run: step is one call of the CLI (set-up, lint and test tools excepted)."""
    allowed = ("mlcicd ", "python -m mlcicd_course ", "python -m pip install ",
               "ruff check ", "python -m pytest ")
    workflow = workflows.load_workflow(WORKFLOW_DIR / f"{stem}.yml")
    runs = [step.run for _, step in workflows.iter_steps(workflow) if step.run is not None]
    assert runs
    for script in runs:
        command = " ".join(script.split())
        assert command.startswith(allowed), command
        assert not re.search(r"(&&|\|\||;|\||\n)", script.strip()), command
        if command.startswith("python -m pip install "):
            continue
        assert "${{" not in command


def test_scheduled_training_runs_at_an_odd_minute_and_is_never_cancelled():
    workflow = workflows.load_workflow(WORKFLOW_DIR / "scheduled-training.yml")
    assert set(workflow.events) == {"schedule", "workflow_dispatch"}
    cron = workflow.on["schedule"]["entries"][0]["cron"]
    minute = cron.split()[0]
    assert minute.isdigit() and int(minute) not in (0, 30), cron
    assert workflow.concurrency["cancel-in-progress"] is False
    upload = [s for _, s in workflows.iter_steps(workflow)
              if s.is_action("actions/upload-artifact")]
    assert len(upload) == 1 and int(upload[0].with_["retention-days"]) > 0
    assert "github.run_attempt" in upload[0].with_["name"]


def test_pr_comparison_grants_write_only_to_the_comment_job_which_runs_no_pr_code():
    workflow = workflows.load_workflow(WORKFLOW_DIR / "pr-model-comparison.yml")
    assert workflow.permissions == {"contents": "read"}
    compare, comment = workflow.jobs["compare"], workflow.jobs["comment"]
    assert compare.permissions is None
    assert comment.permissions == {"pull-requests": "write"}
    assert [s.action for s in comment.steps] == ["actions/download-artifact",
                                                 "actions/github-script"]
    assert "head.repo.full_name == github.repository" in " ".join(comment.if_.split())
    baseline = [s for s in compare.steps if s.with_.get("path") == "baseline"]
    assert baseline and "pull_request.base.sha" in baseline[0].with_["ref"]
    script = comment.steps[1].with_["script"]
    assert "<!-- mlcicd-model-comparison -->" in script and "updateComment" in script


def test_the_complete_pipeline_runs_its_stages_in_order():
    graph = job_graph(WORKFLOW_DIR / "ml-pipeline.yml", "push")
    assert graph.order == ["quality", "tests", "data-validation", "train", "evaluate", "gate",
                           "deploy-staging", "deploy-production"]
    assert [graph.node(j).level for j in graph.order] == [0, 1, 2, 3, 4, 5, 6, 7]
    pull_request = job_graph(WORKFLOW_DIR / "ml-pipeline.yml", "pull_request")
    assert [n.id for n in pull_request.nodes if not n.runs] == ["deploy-staging",
                                                                "deploy-production"]


def test_deployments_use_environments_oidc_only_with_a_cloud_target_and_never_cancel():
    workflow = workflows.load_workflow(WORKFLOW_DIR / "ml-pipeline.yml")
    deploys = {"deploy-staging": "staging", "deploy-production": "production"}
    for job_id, job in workflow.jobs.items():
        token = job.permissions or {}
        assert (token.get("id-token") == "write") == (job_id in deploys), job_id
    for job_id, environment in deploys.items():
        job = workflow.jobs[job_id]
        assert job.environment == environment
        assert job.concurrency["cancel-in-progress"] is False
        oidc = [s for s in job.steps if (s.uses or "").startswith(
            "aws-actions/configure-aws-credentials@")]
        assert len(oidc) == 1 and "vars.AWS_DEPLOY_ROLE_ARN" in oidc[0].if_
        assert "role-to-assume" in oidc[0].with_ and not any(
            "aws-secret-access-key" in s.with_ for s in job.steps)
        runs = [s.run for s in job.steps if s.run and s.run.startswith("mlcicd pipeline run")]
        assert len(runs) == 1 and f"--part {environment}" in runs[0]


# ---- every rule rejects its bad fixture, and only that rule fires -----------------------

def test_every_rule_has_a_bad_fixture():
    assert {rule_of(p) for p in BAD} == set(workflows.POLICY_RULES)


@pytest.mark.parametrize("fixture", BAD, ids=names(BAD))
def test_bad_fixture_is_rejected_by_its_rule_alone(fixture):
    found = workflows.check_workflow(workflows.load_workflow(fixture))
    assert found, f"{fixture.name}: no finding"
    assert {f.rule for f in found} == {rule_of(fixture)}, "\n".join(map(str, found))
    assert all(f.line > 1 or f.rule == "top-level-permissions" for f in found)


def test_findings_point_at_the_line_to_fix():
    found = workflows.check_workflow(workflows.load_workflow(FIXTURES /
                                                             "bad_expression_in_run.yml"))
    text = (FIXTURES / "bad_expression_in_run.yml").read_text().splitlines()
    assert "github.event.pull_request.title" in text[found[0].line - 1]
    assert str(found[0]).startswith("tests/fixtures/workflows/bad_expression_in_run.yml:")


@pytest.mark.parametrize("fixture", SEED, ids=names(SEED))
def test_the_seed_workflows_break_the_rules(fixture):
    rules = {f.rule for f in workflows.check_workflow(workflows.load_workflow(fixture))}
    assert {"unpinned-uses", "minimum-major", "top-level-permissions", "job-timeout",
            "supported-python"} <= rules


def test_the_seed_complete_pipelines_use_long_lived_aws_keys():
    for name in ("complete-ml-pipeline.yml", "complete-ml-cicd.yml"):
        rules = [f.rule for f in workflows.check_workflow(
            workflows.load_workflow(FIXTURES / "seed" / name))]
        assert rules.count("no-aws-keys") == 4 and "expression-in-run" in rules


# ---- reading: `on` as True, errors ----------------------------------------------------

def test_yaml_reads_on_as_true_and_the_loader_puts_it_back():
    assert True in yaml.safe_load(HARDENED)
    workflow = workflows.parse_workflow(HARDENED)
    assert workflow.events == ("push",) and workflow.on["push"] == {"branches": ["main"]}


@pytest.mark.parametrize("on, events", [
    ("on: push", ("push",)),
    ("on: [push, pull_request]", ("push", "pull_request")),
    ('"on":\n  workflow_dispatch:', ("workflow_dispatch",)),
])
def test_every_form_of_on_is_read(on, events):
    text = HARDENED.replace("on:\n  push:\n    branches: [main]", on)
    assert workflows.parse_workflow(text).events == events


@pytest.mark.parametrize("text, message", [
    ("jobs: [", "not valid YAML"),
    ("- a\n- b\n", "not a YAML mapping"),
    ("name: x\njobs:\n  a:\n    runs-on: x\n", "no `on:`"),
    ("on: push\n", "no `jobs:`"),
    ("on: push\njobs:\n  a:\n    needs: b\n    runs-on: x\n", "needs unknown job 'b'"),
])
def test_malformed_workflows_are_user_errors(text, message):
    with pytest.raises(UserInputError, match=re.escape(message)):
        workflows.parse_workflow(text, "x.yml")


# ---- individual rules on variants --------------------------------------------------------

def test_the_hardened_template_is_clean():
    assert findings(HARDENED) == []


def test_unquoted_3_10_is_read_as_3_1_and_both_python_rules_fire():
    text = HARDENED.replace("      - run: echo hello",
                            "      - uses: actions/setup-python@5fda3b95a4ea91299a34e894583c38"
                            "62153e4b97 # v7.0.0\n        with:\n          python-version: 3.10")
    assert yaml.safe_load(text)["jobs"]["build"]["steps"][1]["with"]["python-version"] == 3.1
    found = findings(text)
    assert {f.rule for f in found} == {"quoted-python-version", "supported-python"}
    assert "Python 3.10 is past end of life" in str(found)


def test_python_versions_in_a_matrix_are_checked():
    text = HARDENED.replace("    steps:", "    strategy:\n      matrix:\n        python: "
                            "[\"3.12\", 3.13, \"3.9\"]\n    steps:")
    assert [f.rule for f in findings(text)] == ["quoted-python-version", "supported-python"]


@pytest.mark.parametrize("permissions, bad", [
    ("permissions: {}", False),
    ("permissions:\n  contents: read\n  actions: read", False),
    ("permissions: read-all", True),
    ("permissions: write-all", True),
    ("permissions:\n  contents: write", True),
])
def test_top_level_permissions_must_be_listed_and_read_only(permissions, bad):
    text = HARDENED.replace("permissions:\n  contents: read", permissions)
    assert bool(findings(text, "top-level-permissions")) is bad


def test_expressions_in_a_github_script_are_found_and_env_is_fine():
    text = HARDENED.replace("      - run: echo hello", """\
      - uses: actions/github-script@ed597411d8f924073f98dfc5c65a23a2325f34cd # v8.0.0
        env:
          TITLE: ${{ github.event.pull_request.title }}
        with:
          script: console.log("${{ github.head_ref }}", process.env.TITLE)""")
    found = findings(text)
    assert [f.rule for f in found] == ["expression-in-run"]
    assert "github.head_ref" in found[0].message


def test_local_and_docker_uses():
    ok = HARDENED.replace("      - run: echo hello", "      - uses: ./.github/actions/local\n"
                          "      - uses: docker://alpine@sha256:" + "a" * 64)
    assert findings(ok) == []
    bad = HARDENED.replace("      - run: echo hello", "      - uses: docker://alpine:3.20")
    assert [f.rule for f in findings(bad)] == ["unpinned-uses"]


def test_the_same_artifact_name_in_two_jobs_is_one_upload_too_many():
    upload = ("      - uses: actions/upload-artifact@043fb46d1a93c77aae656e7c1c64a875d1fc6a0a"
              " # v7.0.1\n        with:\n          name: report\n          path: r.txt\n")
    job = HARDENED.split("jobs:\n")[1]
    text = HARDENED + upload + job.replace("  build:", "  again:") + upload
    found = findings(text)
    assert [f.rule for f in found] == ["unique-artifact-names"]
    assert "also in job build" in found[0].message
    assert findings(text.replace("name: report\n", "name: report\n          overwrite: true\n",
                                 1).replace("name: report\n          path: r.txt\n",
                                            "name: report\n          overwrite: true\n"
                                            "          path: r.txt\n")) == []


def test_a_matrix_upload_named_after_the_matrix_is_unique():
    text = HARDENED.replace("    steps:", "    strategy:\n      matrix:\n        python: "
                            "[\"3.11\", \"3.12\"]\n    steps:") + (
        "      - uses: actions/upload-artifact@043fb46d1a93c77aae656e7c1c64a875d1fc6a0a"
        " # v7.0.1\n        with:\n          name: report-${{ matrix.python }}\n"
        "          path: r.txt\n")
    assert findings(text) == []


def test_an_aws_key_in_a_comment_is_not_a_finding():
    text = "# Never store AWS_SECRET_ACCESS_KEY: use OIDC.\n" + HARDENED
    assert findings(text) == []


@pytest.mark.parametrize("cancel, pr_finding, training_finding", [
    ("${{ github.event_name == 'pull_request' }}", False, False),
    ("true", False, True),
    ("false", True, False),
])
def test_concurrency_cancels_pull_requests_but_never_other_runs(cancel, pr_finding,
                                                                training_finding):
    text = HARDENED.replace("on:\n  push:\n    branches: [main]",
                            "on:\n  push:\n    branches: [main]\n  pull_request:") + (
        f"concurrency:\n  group: ci-${{{{ github.ref }}}}\n  cancel-in-progress: {cancel}\n")
    assert bool(findings(text, "pr-concurrency")) is pr_finding
    assert bool(findings(text, "cancel-training")) is training_finding


def test_known_actions_below_their_minimum_major_by_tag_too():
    text = HARDENED.replace("actions/checkout@3d3c42e5aac5ba805825da76410c181273ba90b1 # v7.0.1",
                            "actions/cache@v4")
    assert {f.rule for f in findings(text)} == {"unpinned-uses", "minimum-major"}


SETUP_PYTHON = "actions/setup-python@5fda3b95a4ea91299a34e894583c3862153e4b97 # v7.0.0"


def python_matrix(values: str, key: str = "py") -> str:
    """HARDENED with a matrix key `key` that feeds setup-python."""
    return HARDENED.replace("    steps:", f"    strategy:\n      matrix:\n        {key}: {values}\n"
                            "    steps:").replace("      - run: echo hello", (
        f"      - uses: {SETUP_PYTHON}\n        with:\n"
        f"          python-version: ${{{{ matrix.{key} }}}}"))


def python_findings(text: str) -> list[tuple[str, str]]:
    """(rule, the version the message names) of each Python finding."""
    found = [f for f in findings(text) if f.rule in ("quoted-python-version", "supported-python")]
    return [(f.rule, re.search(r"Python (?:version )?(\S+)", f.message).group(1)) for f in found]


@pytest.mark.parametrize("text, expected", [
    # a matrix key of any name that feeds setup-python
    (python_matrix('[3.10, "3.9"]'), [("quoted-python-version", "3.10"),
                                       ("supported-python", "3.10"),
                                       ("supported-python", "3.9")]),
    # the second entry of a list is read from its own text, not from the line's first number
    (python_matrix("[3.12, 3.10]"), [("quoted-python-version", "3.12"),
                                     ("quoted-python-version", "3.10"),
                                     ("supported-python", "3.10")]),
    # the advice quotes what was written ("3.10"), not what YAML read (3.1)
    (python_matrix('["3.12", 3.10]'), [("quoted-python-version", "3.10"),
                                       ("supported-python", "3.10")]),
    # 3.12 is not blamed for the 3.10 before it on the same line
    (python_matrix('["3.10", "3.12"]'), [("supported-python", "3.10")]),
    (python_matrix("[3.10, 3.12]"), [("quoted-python-version", "3.10"),
                                     ("quoted-python-version", "3.12"),
                                     ("supported-python", "3.10")]),
    # a block list, and a key that says python
    (python_matrix('\n          - "3.13"\n          - "3.9"', "python-version"),
     [("supported-python", "3.9")]),
    # a multi-line python-version installs each line
    (HARDENED.replace("      - run: echo hello", f"      - uses: {SETUP_PYTHON}\n        with:\n"
                      "          python-version: |\n            3.12\n            3.10\n"),
     [("supported-python", "3.10")]),
    # a matrix key that does not feed setup-python is not a Python version
    (HARDENED.replace("    steps:", "    strategy:\n      matrix:\n        shard: [1.5, 2.5]\n"
                      "    steps:"), []),
    (python_matrix('["3.11", "3.14"]'), []),
])
def test_python_versions_are_read_as_written(text, expected):
    assert sorted(python_findings(text)) == sorted(expected)


UPLOAD = ("      - if: ${{ always() }}\n        uses: actions/upload-artifact@"
          "043fb46d1a93c77aae656e7c1c64a875d1fc6a0a # v7.0.1\n"
          "        with:\n          name: NAME\n          path: r.txt\n")


@pytest.mark.parametrize("name, condition, after, rerun_finding", [
    ("report", "${{ always() }}", "", True),  # uploads after a failure: a re-run uploads again
    ("report", "${{ !cancelled() }}", "", True),
    ("report", "${{ success() }}", "      - run: echo later\n", True),  # a later step can fail
    ("report", "${{ success() }}", "", False),  # the job's last step, only on success
    ("report-${{ github.run_attempt }}", "${{ always() }}", "", False),
])
def test_an_artifact_a_failed_job_can_upload_again_names_the_attempt(name, condition, after,
                                                                     rerun_finding):
    text = HARDENED + UPLOAD.replace("NAME", name).replace("${{ always() }}", condition) + after
    found = findings(text, "unique-artifact-names")
    assert bool(found) is rerun_finding, found
    assert all("github.run_attempt" in f.message for f in found)


def test_an_attempt_through_env_counts():
    text = HARDENED.replace("    steps:", "    env:\n      NAME: r-${{ github.run_attempt }}\n"
                            "    steps:") + UPLOAD.replace("NAME", "${{ env.NAME }}")
    assert findings(text) == []


@pytest.mark.parametrize("uses, rule, needle", [
    # v5 still runs on node20; v6 is the first node24 major
    ("aws-actions/configure-aws-credentials@" + "c" * 40 + " # v5.1.1", "minimum-major",
     "use v6 or newer"),
    # action names are case-insensitive on GitHub; an old major still starts, with a warning
    ("Actions/Cache@" + "c" * 40 + " # v4.2.0", "minimum-major",
     "use v5 or newer (it was written for a Node version"),
    # artifact actions below v4 do not start at all
    ("actions/download-artifact@" + "c" * 40 + " # v3.0.2", "minimum-major",
     "GitHub refuses it: every run that uses it fails"),
    # the recorded tag of this SHA is v7.0.1, not what the comment says
    ("actions/checkout@3d3c42e5aac5ba805825da76410c181273ba90b1 # v7.0.0", "known-sha",
     "is v7.0.1, but its comment says v7.0.0"),
    ("ACTIONS/CHECKOUT@3d3c42e5aac5ba805825da76410c181273ba90b1 # v6.0.0", "known-sha",
     "is v7.0.1, but its comment says v6.0.0"),
    # a recorded tag at another SHA: the tag was moved, or the comment is wrong
    ("actions/checkout@" + "d" * 40 + " # v7.0.1", "known-sha", "not 3d3c42e5"),
])
def test_majors_and_recorded_tags(uses, rule, needle):
    text = HARDENED.replace("actions/checkout@3d3c42e5aac5ba805825da76410c181273ba90b1 # v7.0.1",
                            uses)
    found = findings(text)
    assert [f.rule for f in found] == [rule] and needle in found[0].message, found


def test_a_new_sha_with_a_new_version_is_not_checked_against_the_record():
    text = HARDENED.replace("3d3c42e5aac5ba805825da76410c181273ba90b1 # v7.0.1",
                            "e" * 40 + " # v7.2.0")
    assert findings(text) == []


@pytest.mark.parametrize("trigger, ref, bad", [
    ("issue_comment", "refs/pull/${{ github.event.issue.number }}/head", True),
    ("workflow_run", "${{ github.event.workflow_run.head_branch }}", True),
    ("workflow_run", "${{ github.event.workflow_run.head_repository.full_name }}", True),
    ("workflow_run", "main", False),
    ("pull_request", "${{ github.event.pull_request.head.sha }}", False),  # no write token
])
def test_privileged_triggers_do_not_check_out_untrusted_code(trigger, ref, bad):
    text = HARDENED.replace("on:\n  push:\n    branches: [main]", f"on:\n  {trigger}:").replace(
        "          persist-credentials: false", f"          persist-credentials: false\n"
        f"          ref: {ref}")
    assert bool(findings(text, "untrusted-checkout")) is bad


@pytest.mark.parametrize("job, bad", [
    ("    container: python:3.12-slim\n", True),
    ("    container:\n      image: python@sha256:" + "a" * 64 + "\n", False),
    ("    services:\n      db:\n        image: postgres:17\n", True),
    ("    services:\n      db:\n        image: postgres@sha256:" + "b" * 64 + "\n", False),
])
def test_container_and_service_images_are_pinned_to_a_digest(job, bad):
    text = HARDENED.replace("    steps:", job + "    steps:")
    assert bool(findings(text, "unpinned-images")) is bad


@pytest.mark.parametrize("secrets, bad", [("inherit", True),
                                          ("\n      token: ${{ secrets.DEPLOY }}", False)])
def test_a_reusable_workflow_gets_named_secrets(secrets, bad):
    text = HARDENED.split("jobs:\n")[0] + (
        f"jobs:\n  call:\n    uses: ./.github/workflows/x.yml\n    secrets: {secrets}\n")
    assert bool(findings(text, "secrets-inherit")) is bad


def test_duplicate_keys_anywhere_are_found_though_yaml_keeps_the_last():
    text = HARDENED.replace("    timeout-minutes: 10\n", "    timeout-minutes: 10\n"
                            "    timeout-minutes: 20\n")
    workflow = workflows.parse_workflow(text)
    assert workflow.jobs["build"].timeout_minutes == 20  # PyYAML's silent choice
    found = findings(text)
    assert [(f.rule, f.line) for f in found] == [("duplicate-keys", 11)]
    assert "first at line 10" in found[0].message


UNEVALUABLE = HARDENED.replace("on:\n  push:\n    branches: [main]",
                               "on:\n  push:\n    branches: [main]\n  pull_request:") + (
    "concurrency:\n  group: ci-${{ github.ref }}\n"
    "  cancel-in-progress: ${{ vars.CANCEL_RUNS == 'yes' }}\n")


def test_an_expression_that_cannot_be_evaluated_locally_is_a_finding():
    found = findings(UNEVALUABLE)
    assert {f.rule for f in found} == {"pr-concurrency", "cancel-training"}
    assert all("cannot evaluate" in f.message and "vars.CANCEL_RUNS" in f.message
               for f in found)
    dispatch = HARDENED.replace("on:\n  push:\n    branches: [main]", (
        "on:\n  workflow_dispatch:\n    inputs:\n      level:\n        required: true\n")) + (
        "concurrency:\n  group: x\n  cancel-in-progress: false\n")
    assert [f.rule for f in findings(dispatch)] == ["cancel-training"]
    assert "cannot evaluate the workflow_dispatch context" in findings(dispatch)[0].message


def test_cli_check_reports_an_unevaluable_file_and_checks_the_others(run_cli, tmp_path):
    (tmp_path / "a_vars.yml").write_text(UNEVALUABLE)
    (tmp_path / "b_timeout.yml").write_text((FIXTURES / "bad_job_timeout.yml").read_text())
    result = run_cli("workflow", "check", tmp_path)
    assert result.returncode == 1, result.stderr
    assert "a_vars.yml:" in result.stdout and "cannot evaluate" in result.stdout
    assert "b_timeout.yml:9: job-timeout" in result.stdout
    assert "2 workflow file(s)" in result.stdout and result.stderr == ""


def test_every_pip_install_in_a_workflow_uses_the_constraints():
    for path in WORKFLOWS:
        for _, step in workflows.iter_steps(workflows.load_workflow(path)):
            if step.run and "pip install" in step.run:
                assert "-c requirements/ci.txt" in step.run, f"{path.name}: {step.run}"
    make_test = [s for s in workflows.load_workflow(WORKFLOW_DIR / "course-ci.yml")
                 .jobs["linux"].steps if s.run == "make test"]
    assert make_test[0].env["PIP_CONSTRAINT"].endswith("requirements/ci.txt")


def test_the_constraints_pin_every_dependency_inside_its_range():
    import tomllib

    from packaging.requirements import Requirement
    from packaging.utils import canonicalize_name

    project = tomllib.loads((ROOT / "pyproject.toml").read_text())["project"]
    declared = {canonicalize_name(Requirement(r).name): Requirement(r).specifier
                for r in project["dependencies"] + project["optional-dependencies"]["dev"]}
    lines = [line.split("#")[0].strip()
             for line in (ROOT / "requirements" / "ci.txt").read_text().splitlines()]
    pinned = {canonicalize_name(name): version
              for name, version in (line.split("==") for line in lines if line)}
    assert sorted(pinned) == sorted(declared)
    outside = {name: (version, str(declared[name])) for name, version in pinned.items()
               if version not in declared[name]}
    assert not outside, f"pins outside pyproject's ranges: {outside}"


# ---- the command line -----------------------------------------------------------------

def test_cli_check_passes_on_the_repository(run_cli):
    result = run_cli("workflow", "check", cwd=ROOT)
    assert result.returncode == 0, result.stdout
    assert f"{len(WORKFLOWS)} workflow file(s), 0 finding(s)" in result.stdout


def test_cli_check_fails_on_a_bad_fixture_and_writes_json(run_cli, tmp_path):
    out = tmp_path / "findings.json"
    result = run_cli("workflow", "check", str(FIXTURES / "bad_job_timeout.yml"),
                     str(FIXTURES / "bad_no_aws_keys.yml"), "--json", out)
    assert result.returncode == 1
    assert "job-timeout: job build has no `timeout-minutes`" in result.stdout
    data = json.loads(out.read_text())
    assert data["ok"] is False
    assert [f["rule"] for f in data["findings"]] == ["job-timeout", "no-aws-keys",
                                                      "no-aws-keys"]


def test_cli_check_one_rule_and_list_rules(run_cli):
    result = run_cli("workflow", "check", "--rule", "job-timeout", str(FIXTURES / "seed"))
    assert result.returncode == 1
    assert set(re.findall(r": ([a-z-]+): ", result.stdout)) == {"job-timeout"}
    listed = run_cli("workflow", "check", "--list-rules")
    assert listed.returncode == 0
    assert [line.split()[0] for line in listed.stdout.splitlines()] == list(
        workflows.POLICY_RULES)


@pytest.mark.parametrize("content, message", [
    (None, "workflow path not found"),
    ("on: [push\n", "is not valid YAML"),
])
def test_cli_check_bad_input_is_one_line_and_exit_2(run_cli, tmp_path, content, message):
    path = tmp_path / "broken.yml"
    if content is not None:
        path.write_text(content)
    result = run_cli("workflow", "check", str(path))
    assert result.returncode == 2
    assert len(result.stderr.strip().splitlines()) == 1 and message in result.stderr
    assert "Traceback" not in result.stderr
    unknown = run_cli("workflow", "check", "--rule", "nope", str(FIXTURES / "seed"))
    assert unknown.returncode == 2 and "unknown rule 'nope'" in unknown.stderr


def test_cli_check_json_to_an_unwritable_place_prints_only_the_error(run_cli, tmp_path):
    (tmp_path / "a-file").write_text("x")
    result = run_cli("workflow", "check", FIXTURES / "bad_job_timeout.yml",
                     "--json", tmp_path / "a-file" / "findings.json")
    assert result.returncode == 2
    assert result.stdout == ""
    assert len(result.stderr.strip().splitlines()) == 1 and "Traceback" not in result.stderr
