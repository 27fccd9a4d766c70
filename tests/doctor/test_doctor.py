"""`trusted-publish doctor`: small repositories built in the test (git remote included), read
through the real CLI; and the round trip: the publisher doctor names, registered in the
sandbox, lets the workflow's identity publish."""

from __future__ import annotations

import json
import subprocess
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from hypothesis import HealthCheck, example, given, settings
from hypothesis import strategies as st

from support import runs
from support.fuzz import any_text
from support.gitrepo import make_repo, write
from support.workflow_log import foreign_commands
from trusted_publish.cli import main
from trusted_publish.doctor.repo import parse_remote
from trusted_publish.doctor.yamlfile import BrokenYaml, YList, YMap, YText, load
from trusted_publish_sandbox import Identity, RegisteredPublisher, Sandbox

EXIT_DOCTOR = 6
EXAMPLES = Path(__file__).resolve().parents[2] / "examples" / "workflows"
SHA = "11bd71901bbe5b1630ceea73d27597364c9af683"

TWO_JOBS = f"""
name: Release
on:
  release:
    types: [published]
permissions: {{}}
jobs:
  build:
    runs-on: ubuntu-latest
    permissions:
      contents: read
    steps:
      - uses: actions/checkout@{SHA}
        with:
          persist-credentials: false
      - run: python -m build
      - uses: actions/upload-artifact@{SHA}
        with: {{name: dist, path: dist/}}
  publish:
    needs: build
    runs-on: ubuntu-latest
    environment: pypi
    permissions:
      id-token: write
    steps:
      - uses: actions/download-artifact@{SHA}
        with: {{name: dist, path: dist/}}
      - uses: trusted-publish/trusted-publish@{SHA} # v1
"""


class Run(runs.Run):
    @property
    def json(self) -> Any:
        return json.loads(self.out)


@pytest.fixture
def doctor(capsys: pytest.CaptureFixture[str]) -> Iterator[Any]:
    def run(path: Path, *args: str, env: dict[str, str] | None = None) -> Run:
        capsys.readouterr()
        code = main(["doctor", str(path), *args], env=env or {})
        captured = capsys.readouterr()
        return Run(code, captured.out, captured.err)

    yield run


def codes(run: Run) -> list[str]:
    report = run.json
    found = [f["code"] for f in report["file_findings"]]
    for job in report["jobs"]:
        found.extend(f["code"] for f in job["findings"])
    return found


def problems(run: Run) -> list[str]:
    report = run.json
    found = [f["code"] for f in report["file_findings"] if f["severity"] == "problem"]
    for job in report["jobs"]:
        found.extend(f["code"] for f in job["findings"] if f["severity"] == "problem")
    return found


# --- GitHub ------------------------------------------------------------------------------


def test_a_correct_two_job_workflow_passes_and_names_every_publisher_field(
    tmp_path: Path, doctor: Any
) -> None:
    repo = make_repo(tmp_path, workflows={"release.yml": TWO_JOBS})
    run = doctor(repo)
    assert run.code == 0, run.text
    for line in (
        "PyPI Project Name  tp-demo-package",
        "Owner              octo-org",
        "Repository name    demo",
        "Workflow name      release.yml",
        "Environment name   pypi",
    ):
        assert line in run.out
    assert "https://pypi.org/manage/account/publishing/" in run.out
    assert (
        "https://pypi.org/manage/project/tp-demo-package/settings/publishing/?provider=github"
        "&owner=octo-org&repository=demo&workflow_filename=release.yml&environment=pypi"
    ) in run.out
    report = doctor(repo, "--json").json
    assert report["ok"] is True
    assert [(job["job"], job["line"]) for job in report["jobs"]] == [("publish", 18)]
    assert report["jobs"][0]["publisher"] == {
        "owner": "octo-org",
        "repository": "demo",
        "workflow_filename": "release.yml",
        "environment": "pypi",
    }
    assert report["jobs"][0]["findings"] == []


def test_the_owner_and_repository_are_spelled_as_the_ssh_remote_spells_them(
    tmp_path: Path, doctor: Any
) -> None:
    repo = make_repo(
        tmp_path, remote="git@github.com:Octo-Org/Demo.git", workflows={"release.yml": TWO_JOBS}
    )
    publisher = doctor(repo, "--json").json["jobs"][0]["publisher"]
    assert (publisher["owner"], publisher["repository"]) == ("Octo-Org", "Demo")


def test_missing_id_token_is_a_problem_with_its_line(tmp_path: Path, doctor: Any) -> None:
    workflow = TWO_JOBS.replace("      id-token: write\n", "      contents: read\n")
    repo = make_repo(tmp_path, workflows={"release.yml": workflow})
    run = doctor(repo, "--json")
    assert run.code == EXIT_DOCTOR
    assert problems(run) == ["missing-id-token"]
    finding = run.json["jobs"][0]["findings"][0]
    assert (finding["file"], finding["line"]) == (".github/workflows/release.yml", 22)
    assert "id-token: write" in finding["fix"]
    text = doctor(repo)
    assert text.code == EXIT_DOCTOR
    assert "PROBLEM  .github/workflows/release.yml:22" in text.out
    assert "1 problem(s) would fail the release" in text.err


def test_job_permissions_replace_the_workflows_and_write_all_grants(
    tmp_path: Path, doctor: Any
) -> None:
    # The workflow grants id-token, the job's own block does not: the job has none.
    workflow = TWO_JOBS.replace("permissions: {}", "permissions:\n  id-token: write").replace(
        "      id-token: write\n    steps:", "      contents: read\n    steps:"
    )
    repo = make_repo(tmp_path / "a", workflows={"release.yml": workflow})
    assert "missing-id-token" in problems(doctor(repo, "--json"))
    workflow = TWO_JOBS.replace("    permissions:\n      id-token: write\n", "").replace(
        "permissions: {}", "permissions: write-all"
    )
    repo = make_repo(tmp_path / "b", workflows={"release.yml": workflow})
    run = doctor(repo, "--json")
    assert run.code == 0, run.out
    assert "workflow-id-token" in codes(run)


def test_pull_request_target_is_a_problem(tmp_path: Path, doctor: Any) -> None:
    workflow = TWO_JOBS.replace("  release:\n    types: [published]", "  pull_request_target:")
    repo = make_repo(tmp_path, workflows={"release.yml": workflow})
    run = doctor(repo, "--json")
    assert run.code == EXIT_DOCTOR
    assert problems(run) == ["pull-request-target"]


def test_a_pull_request_trigger_is_a_problem_unless_the_job_is_guarded(
    tmp_path: Path, doctor: Any
) -> None:
    workflow = TWO_JOBS.replace("  release:\n    types: [published]", "  pull_request:\n  release:")
    repo = make_repo(tmp_path / "a", workflows={"release.yml": workflow})
    assert problems(doctor(repo, "--json")) == ["pull-request"]
    guarded = workflow.replace(
        "    environment: pypi", "    environment: pypi\n    if: github.event_name == 'release'"
    )
    repo = make_repo(tmp_path / "b", workflows={"release.yml": guarded})
    assert doctor(repo, "--json").code == 0


def test_build_and_publish_in_one_job_warns_without_failing(tmp_path: Path, doctor: Any) -> None:
    workflow = """
    on:
      push:
    jobs:
      release:
        runs-on: ubuntu-latest
        permissions:
          id-token: write
        steps:
          - uses: actions/checkout@v4
          - uses: actions/setup-python@v5
          - run: |
              python -m pip install build twine
              python -m build
              twine upload dist/*
    """
    repo = make_repo(tmp_path, workflows={"release.yml": workflow})
    run = doctor(repo, "--json")
    assert run.code == 0, run.out
    assert sorted(codes(run)) == [
        "any-branch",
        "build-in-publish-job",
        "no-environment",
        "persist-credentials",
    ]
    assert run.json["jobs"][0]["tool"] == "twine upload"
    # First-party actions on a tag are not flagged; a third-party one is.
    third = workflow.replace("actions/setup-python@v5", "astral-sh/setup-uv@v6")
    repo = make_repo(tmp_path / "b", workflows={"release.yml": third})
    assert "unpinned-action" in codes(doctor(repo, "--json"))


REUSABLE = """
on:
  workflow_call:
jobs:
  upload:
    runs-on: ubuntu-latest
    environment: pypi
    steps:
      - run: uv publish
"""


def caller(uses: str) -> str:
    return f"""
    on:
      push:
        tags: ['v*']
    jobs:
      publish:
        permissions:
          id-token: write
        uses: {uses}
    """


def test_a_reusable_workflow_is_matched_by_its_own_file_name(tmp_path: Path, doctor: Any) -> None:
    repo = make_repo(
        tmp_path,
        workflows={
            "release.yml": caller("./.github/workflows/publish.yml"),
            "publish.yml": REUSABLE,
        },
    )
    run = doctor(repo, "--json")
    assert run.code == 0, run.out
    job = run.json["jobs"][0]
    assert job["publisher"]["workflow_filename"] == "publish.yml"
    assert any("_check_job_workflow_ref" in note for note in job["notes"])


def test_a_reusable_workflow_pypi_cannot_match_is_a_problem(tmp_path: Path, doctor: Any) -> None:
    # Called at another ref (job_workflow_ref carries @main), or called from nowhere here.
    at_main = caller("octo-org/demo/.github/workflows/publish.yml@main")
    repo = make_repo(tmp_path / "a", workflows={"release.yml": at_main, "publish.yml": REUSABLE})
    assert problems(doctor(repo, "--json")) == ["reusable-unmatched"]
    repo = make_repo(tmp_path / "b", workflows={"publish.yml": REUSABLE})
    assert problems(doctor(repo, "--json")) == ["reusable-unmatched"]


def test_a_caller_without_id_token_fails_its_reusable_publisher(
    tmp_path: Path, doctor: Any
) -> None:
    without = caller("./.github/workflows/publish.yml").replace("id-token: write", "contents: read")
    repo = make_repo(tmp_path, workflows={"release.yml": without, "publish.yml": REUSABLE})
    assert problems(doctor(repo, "--json")) == ["missing-id-token"]


def test_a_pypa_publish_job_to_testpypi(tmp_path: Path, doctor: Any) -> None:
    workflow = TWO_JOBS.replace(
        f"trusted-publish/trusted-publish@{SHA} # v1",
        f"pypa/gh-action-pypi-publish@{SHA}\n        with:\n"
        "          repository-url: https://test.pypi.org/legacy/",
    )
    repo = make_repo(tmp_path, workflows={"testpypi.yaml": workflow})
    run = doctor(repo, "--json")
    assert run.code == 0, run.out
    job = run.json["jobs"][0]
    assert (job["tool"], job["indexes"]) == ("pypa/gh-action-pypi-publish", ["testpypi"])
    assert [link["url"].split("/manage")[0] for link in job["links"]] == [
        "https://test.pypi.org",
        "https://test.pypi.org",
    ]


# --- GitLab ------------------------------------------------------------------------------

GITLAB_OK = """
stages: [build, publish]
build:
  stage: build
  script: [uv build]
  artifacts:
    paths: [dist/]
publish:
  stage: publish
  environment:
    name: pypi
  id_tokens:
    PYPI_ID_TOKEN:
      aud: pypi
  script:
    - uv publish
"""


def test_a_correct_gitlab_pipeline_passes(tmp_path: Path, doctor: Any) -> None:
    repo = make_repo(
        tmp_path, remote="https://gitlab.com/octo-group/tools/demo.git", gitlab_ci=GITLAB_OK
    )
    run = doctor(repo)
    assert run.code == 0, run.text
    for line in (
        "Namespace                     octo-group/tools",
        "Project name                  demo",
        "Top-level pipeline file path  .gitlab-ci.yml",
        "Environment name              pypi",
    ):
        assert line in run.out
    assert "provider=gitlab&namespace=octo-group%2Ftools&project=demo" in run.out


def test_a_gitlab_job_without_id_tokens_is_a_problem(tmp_path: Path, doctor: Any) -> None:
    pipeline = GITLAB_OK.replace("  id_tokens:\n    PYPI_ID_TOKEN:\n      aud: pypi\n", "")
    repo = make_repo(tmp_path / "a", remote="git@gitlab.com:octo/demo.git", gitlab_ci=pipeline)
    run = doctor(repo, "--json")
    assert run.code == EXIT_DOCTOR
    assert problems(run) == ["missing-id-tokens"]
    assert run.json["jobs"][0]["findings"][0]["line"] == 7  # the job's `publish:` line
    renamed = GITLAB_OK.replace("PYPI_ID_TOKEN:", "MY_TOKEN:")
    repo = make_repo(tmp_path / "b", remote="git@gitlab.com:octo/demo.git", gitlab_ci=renamed)
    assert problems(doctor(repo, "--json")) == ["id-token-variable"]


def test_gitlab_id_tokens_from_default_and_extends_count(tmp_path: Path, doctor: Any) -> None:
    pipeline = """
    default:
      id_tokens:
        PYPI_ID_TOKEN: {aud: pypi}
    .publish:
      environment: pypi
      script: [python -m twine upload dist/*]
    publish:
      extends: .publish
    """
    repo = make_repo(tmp_path, remote="git@gitlab.com:octo/demo.git", gitlab_ci=pipeline)
    run = doctor(repo, "--json")
    assert run.code == 0, run.out
    assert [job["job"] for job in run.json["jobs"]] == ["publish"]


# --- nothing to check, or nothing readable -----------------------------------------------


def test_no_publishing_job_says_what_was_read(tmp_path: Path, doctor: Any) -> None:
    repo = make_repo(
        tmp_path,
        workflows={"ci.yml": "on: push\njobs:\n  test:\n    steps:\n      - run: pytest\n"},
    )
    run = doctor(repo)
    assert run.code == EXIT_DOCTOR
    assert "No publishing job found. Read: .github/workflows/ci.yml." in run.err
    # `trusted-publish doctor` in a workflow is not a publishing job.
    write(
        repo / ".github/workflows/ci.yml",
        "jobs:\n  t:\n    steps:\n      - run: trusted-publish doctor\n",
    )
    run = doctor(repo)
    assert run.code == EXIT_DOCTOR
    assert "No publishing job found" in run.err


def test_broken_yaml_names_the_file_and_line(tmp_path: Path, doctor: Any) -> None:
    repo = make_repo(
        tmp_path,
        workflows={"release.yml": TWO_JOBS, "broken.yml": "on: push\njobs:\n  a: [1,\n  b: }\n"},
    )
    run = doctor(repo, "--json")
    assert run.code == EXIT_DOCTOR
    (finding,) = run.json["file_findings"]
    assert (finding["code"], finding["file"], finding["line"]) == (
        "broken-yaml",
        ".github/workflows/broken.yml",
        4,
    )
    assert "broken.yml, line 4" in doctor(repo).out


def test_yaml_is_read_safely_and_bounded(tmp_path: Path, doctor: Any) -> None:
    marker = tmp_path / "constructed"
    laughs = "a: &a [x, x, x, x, x, x, x, x, x, x]\n" + "".join(
        f"{n}: &{n} [*{p}, *{p}, *{p}, *{p}, *{p}, *{p}, *{p}, *{p}, *{p}, *{p}]\n"
        for p, n in zip("abcdefgh", "bcdefghi")
    )
    repo = make_repo(
        tmp_path / "repo",
        workflows={
            "object.yml": f'x: !!python/object/apply:os.system ["touch {marker}"]\n',
            "laughs.yml": laughs,
        },
    )
    run = doctor(repo, "--json")
    assert not marker.exists()
    assert [(f["file"], f["code"]) for f in run.json["file_findings"]] == [
        (".github/workflows/laughs.yml", "broken-yaml")
    ]


def test_repository_flag_without_a_remote(tmp_path: Path, doctor: Any) -> None:
    repo = make_repo(tmp_path, remote=None, workflows={"release.yml": TWO_JOBS})
    run = doctor(repo, "--json")
    assert problems(run) == ["unknown-repository"]
    run = doctor(repo, "--repository", "Octo-Org/demo", "--json")
    assert run.code == 0, run.out
    publisher = run.json["jobs"][0]["publisher"]
    assert (publisher["owner"], publisher["repository"]) == ("Octo-Org", "demo")
    assert doctor(repo, "--repository", "demo").code == 2


@pytest.mark.parametrize(
    ("url", "host", "path"),
    [
        ("https://github.com/Octo/Demo.git", "github.com", ("Octo", "Demo")),
        ("https://x-access-token:ghs_secret@github.com/octo/demo", "github.com", ("octo", "demo")),
        ("git@github.com:octo/demo.git", "github.com", ("octo", "demo")),
        ("ssh://git@github.com/octo/demo.git/", "github.com", ("octo", "demo")),
        ("https://gitlab.com/a/b/c.git", "gitlab.com", ("a", "b", "c")),
    ],
)
def test_remote_urls(url: str, host: str, path: tuple[str, ...]) -> None:
    remote = parse_remote(url)
    assert remote is not None
    assert (remote.host, remote.path) == (host, path)


def test_a_remote_with_a_token_never_shows_it(tmp_path: Path, doctor: Any) -> None:
    remote = "https://x-access-token:ghs_SECRETSECRET@github.com/octo/demo.git"
    repo = make_repo(tmp_path, remote=remote, workflows={"release.yml": TWO_JOBS})
    for run in (doctor(repo), doctor(repo, "--json")):
        assert run.code == 0
        assert "SECRETSECRET" not in run.text


# --- untrusted text ----------------------------------------------------------------------

HOSTILE = "::error::pwned ##[warning]pwned \u2028::warning::pwned"


@pytest.mark.parametrize("flag", [[], ["--json"]])
def test_a_crafted_workflow_prints_no_workflow_command(
    tmp_path: Path, doctor: Any, flag: list[str]
) -> None:
    # Job ids and environment names as YAML keys and values: quoted, with escapes.
    job_id = json.dumps(HOSTILE + "\n::error::pwned")
    workflow = f"""
    on: pull_request_target
    jobs:
      {job_id}:
        environment: {json.dumps(HOSTILE)}
        steps:
          - uses: {json.dumps("evil/trusted-publish@::error::pwned")}
    """
    repo = make_repo(tmp_path, remote="git@github.com:octo/demo.git", workflows={"r.yml": workflow})
    run = doctor(repo, *flag, env={"GITHUB_ACTIONS": "true"})
    assert run.code == EXIT_DOCTOR
    assert "pwned" in run.text
    assert foreign_commands(run.out) == []
    assert foreign_commands(run.err) == []
    if flag:
        assert json.loads(run.out)["jobs"][0]["job"] == HOSTILE + "\n::error::pwned"


# --- the round trip: doctor's answer, registered in the sandbox, publishes ----------------


def register_and_publish(
    publisher: dict[str, str], project: str, identity: Identity, dist_dir: Path
) -> tuple[int, Sandbox]:
    registered = RegisteredPublisher(
        f"{publisher['owner']}/{publisher['repository']}",
        publisher["workflow_filename"],
        publisher["environment"] or None,
        projects=project,
        pending=True,
    )
    with Sandbox([registered], identity) as sandbox:
        env = {
            "GITHUB_ACTIONS": "true",
            "TRUSTED_PUBLISH_REPOSITORY_URL": sandbox.repository_url,
            "TRUSTED_PUBLISH_PACKAGES_DIR": str(dist_dir),
            **sandbox.env(),
        }
        code = main([], env=env)
        return code, sandbox


def test_a_doctor_approved_workflow_publishes_through_the_sandbox(
    tmp_path: Path, doctor: Any, dist_dir: Path
) -> None:
    example = (EXAMPLES / "publish-on-release.yml").read_text(encoding="utf-8")
    repo = make_repo(
        tmp_path / "repo",
        remote="git@github.com:octo-org/demo.git",
        workflows={"publish-on-release.yml": example},
    )
    run = doctor(repo, "--json")
    assert run.code == 0, run.out
    (job,) = run.json["jobs"]
    # The identity GitHub gives that job: this repository, this file, its environment.
    identity = Identity(
        repository="octo-org/demo",
        workflow="publish-on-release.yml",
        environment="pypi",
        event_name="release",
    )
    code, sandbox = register_and_publish(job["publisher"], job["project"], identity, dist_dir)
    assert code == 0
    assert {f.filename for f in sandbox.files(job["project"])} == {
        p.name for p in dist_dir.iterdir()
    }


def test_a_doctor_approved_reusable_workflow_publishes_and_the_callers_name_would_not(
    tmp_path: Path, doctor: Any, dist_dir: Path
) -> None:
    repo = make_repo(
        tmp_path / "repo",
        remote="git@github.com:octo-org/demo.git",
        workflows={
            "release.yml": caller("./.github/workflows/publish.yml"),
            "publish.yml": REUSABLE,
        },
    )
    (job,) = doctor(repo, "--json").json["jobs"]
    # A job of publish.yml called by release.yml at tag v1.0.0, as GitHub signs it.
    identity = Identity(
        repository="octo-org/demo",
        workflow="release.yml",
        job_workflow_ref="octo-org/demo/.github/workflows/publish.yml@refs/tags/v1.0.0",
        environment="pypi",
    )
    code, _ = register_and_publish(job["publisher"], job["project"], identity, dist_dir)
    assert code == 0
    callers_name = {**job["publisher"], "workflow_filename": "release.yml"}
    code, sandbox = register_and_publish(callers_name, job["project"], identity, dist_dir)
    assert code != 0
    assert sandbox.files(job["project"]) == []


def test_doctor_needs_no_network_nor_git_credentials(tmp_path: Path) -> None:
    # The CLI as users run it, in a fresh process: the report comes back, exit 0.
    repo = make_repo(tmp_path, workflows={"release.yml": TWO_JOBS})
    result = subprocess.run(
        ["trusted-publish", "doctor", str(repo)], capture_output=True, text=True, check=False,
        env={"PATH": str(Path(__import__("sys").executable).parent) + ":/usr/bin:/bin"},
    )  # fmt: skip
    assert result.returncode == 0, result.stdout + result.stderr
    assert "Workflow name      release.yml" in result.stdout


def test_doctor_imports_nothing_of_trusted_publish_but_errors_and_console() -> None:
    # doctor reads a repository, not an index: it needs none of the publish path's stages
    # (and so none of their dependencies) to run.
    import ast

    package = Path(__file__).resolve().parents[2] / "src" / "trusted_publish" / "doctor"
    outside = set()
    for path in package.glob("*.py"):
        for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
            names = (
                [node.module or ""]
                if isinstance(node, ast.ImportFrom)
                else [a.name for a in node.names]
                if isinstance(node, ast.Import)
                else []
            )
            outside.update(
                n
                for n in names
                if n.startswith("trusted_publish") and not n.startswith("trusted_publish.doctor")
            )
    assert outside == {"trusted_publish.errors", "trusted_publish.console"}


def test_any_prefix_of_a_workflow_is_a_report_or_a_broken_yaml_never_a_traceback(
    tmp_path: Path,
) -> None:
    # The parsing boundary, without hypothesis: every cut of real workflows (mid-key,
    # mid-quote, mid-flow-mapping), and stray bytes, end in a Diagnosis.
    from trusted_publish.doctor.command import diagnose

    repo = make_repo(tmp_path, workflows={})
    path = write(repo / ".github" / "workflows" / "cut.yml", "")
    sources = [TWO_JOBS, (EXAMPLES / "testpypi-then-pypi.yml").read_text(encoding="utf-8")]
    for source in sources:
        for end in range(0, len(source), 5):
            path.write_text(source[:end] + "\t\x00{[&*!|>", encoding="utf-8")
            diagnosis = diagnose(repo)
            assert diagnosis.read == [".github/workflows/cut.yml"]
    path.write_bytes(b"on: push\n\xff\xfe\n")
    (finding,) = diagnose(repo).file_findings
    assert (finding.code, finding.line) == ("broken-yaml", 2)


def test_uses_dot_is_this_action_only_in_trusted_publishs_own_repository(
    tmp_path: Path, doctor: Any
) -> None:
    local = TWO_JOBS.replace(f"trusted-publish/trusted-publish@{SHA} # v1", "./")
    own = make_repo(tmp_path / "own", project="trusted-publish", workflows={"r.yml": local})
    run = doctor(own, "--json")
    assert run.code == 0, run.out
    assert run.json["jobs"][0]["tool"] == "trusted-publish"
    other = make_repo(tmp_path / "other", workflows={"r.yml": local})
    assert "No publishing job found" in doctor(other).err


#: YAML's own punctuation and a workflow's words, drawn more often than chance.
_YAML_BITS = st.sampled_from(
    ["\n", "  ", "- ", ": ", "on", "jobs", "steps", "uses", "run", "permissions", "id-token",
     "write", "environment", "{", "}", "[", "]", "&a", "*a", "!!str", "|", ">", "'", '"', "#",
     "---", "...", "%YAML 1.2", "? ", "\t", "\x00", "\ufeff", "\udc80"]
)  # fmt: skip


@pytest.mark.fuzz
@settings(suppress_health_check=[HealthCheck.function_scoped_fixture])
@example(text="on: push\n\x00", raw=b"\x00")  # a NUL: PyYAML's reader error has no mark
@given(
    text=st.lists(st.one_of(_YAML_BITS, any_text), max_size=30).map("".join),
    raw=st.binary(max_size=64),
)
def test_any_workflow_file_is_a_tree_or_broken_yaml_never_a_traceback(
    tmp_path: Path, text: str, raw: bytes
) -> None:
    # The boundary of a CI file: any text, and any bytes, are read into a typed tree or a
    # named BrokenYaml, nothing else; its line is in the file (0: the file as a whole).
    path = tmp_path / "fuzzed.yml"
    for content in (text.encode("utf-8", "surrogatepass"), raw):
        path.write_bytes(content)
        found = load(path, ".github/workflows/fuzzed.yml")
        assert isinstance(found, (YMap, YList, YText, BrokenYaml)) or found is None
        if isinstance(found, BrokenYaml):
            # YAML's line breaks: \n, \r, NEL, and the Unicode line and paragraph separators.
            breaks = sum(map(content.decode("utf-8", "replace").count, "\n\r\x85\u2028\u2029"))
            assert 0 <= found.line <= breaks + 1
            if b"\x00" in content and b"\xff" not in content and found.line == 0:
                pytest.fail(f"a NUL is on a line of the file: {found}")


@pytest.mark.fuzz
@example(url="git@github.com:/")
@example(url="https://user:tok@github.com/o/r.git")
@given(url=any_text)
def test_any_remote_url_is_read_or_left_unread(url: str) -> None:
    # `git remote get-url origin` prints whatever the repository's config says.
    remote = parse_remote(url)
    assert remote is None or (remote.path and all(remote.path))
