"""The sandbox a newcomer can drive: it says who it is, prints an environment a shell can
`eval` (or a file for `--env-file`), every variable of which something reads, and without
its extra it ends in one clean error."""

from __future__ import annotations

import os
import re
import subprocess
import sys
from pathlib import Path

import pytest

from support.builders import make_wheel
from support.extras import without_modules
from support.sandbox_client import SANDBOX_VARIABLES, start_cli
from trusted_publish.cli import main

ROOT = Path(__file__).resolve().parents[2]
STANDALONE = [sys.executable, "-m", "trusted_publish_sandbox"]
THROUGH_THE_CLIENT = [sys.executable, "-m", "trusted_publish", "sandbox"]
INSTALL = "pip install 'trusted-publish[sandbox]'"


def stop(proc: subprocess.Popen[str]) -> None:
    proc.terminate()
    try:
        proc.wait(timeout=15)
    except subprocess.TimeoutExpired:
        proc.kill()
        proc.wait()


def test_it_says_which_identities_and_publishers_it_has() -> None:
    proc, _values, base, lines = start_cli(
        STANDALONE, "--repository", "acme/tool", "--workflow", "pub.yml"
    )
    try:
        said = "\n".join(lines)
        assert f"# trusted-publish sandbox on {base}" in said
        assert "# GitHub identity: repository acme/tool, workflow pub.yml, environment pypi" in said
        assert "# GitLab identity: project octo-group/demo, pipeline .gitlab-ci.yml" in said
        assert "# Google identity: service account publisher@demo-project" in said
        assert "#   GitHub acme/tool pub.yml, environment pypi (any project)" in said
        assert "#   GitLab octo-group/demo .gitlab-ci.yml" in said
        assert "#   Google publisher@demo-project.iam.gserviceaccount.com" in said
        # Every line is a comment or an export: the whole output is a shell script.
        assert all(line.startswith(("# ", "export ")) for line in lines), lines
    finally:
        stop(proc)


def test_a_shell_can_eval_what_it_prints_and_env_file_holds_the_same(tmp_path: Path) -> None:
    env_file = tmp_path / "sandbox.env"
    proc, values, _base, lines = start_cli(THROUGH_THE_CLIENT, "--env-file", str(env_file))
    try:
        show = 'for n in "$@"; do printf "%s=%s\\n" "$n" "$(printenv "$n")"; done'
        script = "\n".join([*lines, show])
        shell = subprocess.run(
            ["sh", "-c", script, "sh", *SANDBOX_VARIABLES],
            capture_output=True,
            text=True,
            check=True,
            env={"PATH": os.environ["PATH"]},
        )
        assert shell.stdout.splitlines() == [f"{k}={v}" for k, v in values.items()]
        assert env_file.read_text().splitlines() == [f"{k}={v}" for k, v in values.items()]
        assert env_file.stat().st_mode & 0o777 == 0o600  # the token request bearer is in it
    finally:
        stop(proc)


def test_every_variable_it_prints_is_read_by_something_and_documented() -> None:
    readme = (ROOT / "README.md").read_text(encoding="utf-8")
    section = readme.split("### The sandbox", 1)[1].split("\n## ", 1)[0]
    for name in SANDBOX_VARIABLES:
        assert f"`{name}`" in section, f"README's sandbox section does not say how to use {name}"
    # The bearer the GitLab token URL needs is named where the URL is explained.
    assert re.search(r"GITLAB_ID_TOKEN_URL.*bearer", section, flags=re.DOTALL)
    readers = "\n".join(
        p.read_text(encoding="utf-8") for p in (ROOT / "src" / "trusted_publish").rglob("*.py")
    )
    # Ours read these; the others are GitHub's, GitLab's (a script) and Google's names.
    for name in ("TRUSTED_PUBLISH_", "ACTIONS_ID_TOKEN_REQUEST_URL", "GCE_METADATA_HOST"):
        assert name in readers
    assert "INDEX_URL" not in SANDBOX_VARIABLES


def test_check_and_upload_agree_with_the_environment_it_prints(
    tmp_path: Path, dist_dir: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    bad = tmp_path / "bad"
    make_wheel(bad, "tp_plat", tag="cp312-cp312-linux_x86_64")
    proc, values, _base, _lines = start_cli(STANDALONE)
    try:
        env = {**values, "GITHUB_ACTIONS": "true"}
        assert main(["check", str(bad)], env=env) == 3
        assert main([str(bad)], env=env) == 3  # refused before the token exchange too
        refused = capsys.readouterr()
        assert "'linux_x86_64'" in refused.out + refused.err
        assert main(["check", str(dist_dir)], env=env) == 0
        assert main([str(dist_dir)], env=env) == 0
        out = capsys.readouterr().out
        assert "Done: 2 files uploaded, 2 verified on the index." in out
    finally:
        stop(proc)


def test_without_its_extra_one_clean_error_names_the_install(
    monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    without_modules(monkeypatch, "jwt")
    # --help: without the check, the child would show its help and end with 0.
    assert main(["sandbox", "--help"], env={}) == 2
    err = capsys.readouterr().err
    assert INSTALL in err
    assert "no module jwt" in err
    assert "Traceback" not in err


def test_the_modules_checked_for_are_the_ones_the_extra_brings() -> None:
    # `trusted-publish sandbox` checks for the [sandbox] extra by module name, without
    # importing it; a distribution added to the extra must add its module there too.
    from importlib.metadata import packages_distributions

    import tomllib
    from packaging.requirements import Requirement
    from packaging.utils import canonicalize_name

    from trusted_publish.runtime.sandbox import SANDBOX_MODULES

    project = tomllib.loads(
        (Path(__file__).resolve().parents[2] / "pyproject.toml").read_text(encoding="utf-8")
    )["project"]
    base = {canonicalize_name(Requirement(r).name) for r in project["dependencies"]}
    extra = {
        canonicalize_name(Requirement(r).name) for r in project["optional-dependencies"]["sandbox"]
    } - base
    provides: dict[str, set[str]] = {}
    for module, dists in packages_distributions().items():
        for dist in dists:
            provides.setdefault(str(canonicalize_name(dist)), set()).add(module)
    unchecked = sorted(
        name for name in extra if not provides.get(name, set()) & set(SANDBOX_MODULES)
    )
    assert unchecked == []
