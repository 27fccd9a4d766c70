"""`make demo`: the main job, end to end, on the local sandbox.

1. build examples/demo-package (a wheel and an sdist);
2. start the sandbox (GitHub's OIDC token service + a PyPI look-alike) on loopback;
3. run the entrypoint exactly as action.yml does: a private venv holding only the
   hash-locked runtime dependencies, the package run from the source tree, the inputs as
   TRUSTED_PUBLISH_* variables and the runner's ACTIONS_ID_TOKEN_* variables;
4. install the published package from the sandbox's index into a fresh venv and import it.

Each stage prints a heading; the last line is the verdict.
"""

from __future__ import annotations

import os
import shlex
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
PACKAGE = ROOT / "examples" / "demo-package"
PROJECT, VERSION, MODULE = "tp-demo-package", "1.0.0", "tp_demo_package"


class StageFailed(Exception):
    pass


def stage(title: str) -> None:
    print(f"\n=== {title}", flush=True)


def run(cmd: list[str], **kwargs: object) -> None:
    result = subprocess.run(cmd, check=False, **kwargs)  # type: ignore[call-overload]
    if result.returncode != 0:
        raise StageFailed(f"{Path(cmd[0]).name} exited with {result.returncode}")


def venv_python(venv: Path) -> Path:
    return venv / ("Scripts/python.exe" if os.name == "nt" else "bin/python")


def start_sandbox(log: Path) -> tuple[subprocess.Popen[str], dict[str, str]]:
    proc = subprocess.Popen(
        [sys.executable, "-m", "trusted_publish_sandbox", "--port", "0"],
        stdout=subprocess.PIPE,
        stderr=log.open("w"),
        text=True,
    )
    env: dict[str, str] = {}
    deadline = time.monotonic() + 30
    assert proc.stdout is not None
    for raw in proc.stdout:
        line = raw.strip()
        # `export NAME='value'` lines, shell-quoted: what `eval` would load.
        if line.startswith("export "):
            key, value = shlex.split(line.removeprefix("export "))[0].split("=", 1)
            env[key] = value
        if line.startswith("# sandbox ready"):
            print(line)
            return proc, env
        if time.monotonic() > deadline:
            break
    proc.kill()
    raise StageFailed(f"the sandbox did not start; see {log}")


def main() -> int:
    work = Path(tempfile.mkdtemp(prefix="tp-demo-"))
    # Installs see what a clean runner has: no pip config file or local wheel folders of this
    # machine's (PIP_CERT stays: it is how this machine reaches the registry).
    clean = {
        k: v
        for k, v in os.environ.items()
        if not k.startswith("TRUSTED_PUBLISH_") and k != "PIP_FIND_LINKS"
    }
    clean["PIP_CONFIG_FILE"] = os.devnull
    sandbox: subprocess.Popen[str] | None = None
    try:
        stage("1/4 Build the example project")
        dist = work / "dist"
        run(
            [sys.executable, "-m", "build", "--no-isolation", "--outdir", str(dist), str(PACKAGE)],
            stdout=subprocess.DEVNULL,
        )
        for f in sorted(dist.iterdir()):
            print(f"built {f.name}")

        stage("2/4 Start the sandbox (GitHub OIDC + PyPI look-alike)")
        sandbox, sandbox_env = start_sandbox(work / "sandbox.log")

        stage("3/4 Publish, as the action runs it")
        # action.yml's two steps, verbatim: the setup step makes the private venv from the
        # hash-locked lock and names its Python in GITHUB_OUTPUT; the run step starts the CLI
        # in it, isolated, with the inputs as TRUSTED_PUBLISH_* and the runner's OIDC variables.
        bootstrap = str(ROOT / "src" / "trusted_publish" / "runtime" / "bootstrap.py")
        outputs, summary = work / "outputs.txt", work / "summary.md"
        runner = {
            **clean,
            "GITHUB_ACTIONS": "true",
            "GITHUB_ACTION_PATH": str(ROOT),
            "RUNNER_TEMP": str(work / "runner-temp"),
            "GITHUB_OUTPUT": str(outputs),
            "GITHUB_STEP_SUMMARY": str(summary),
            "PYTHONUTF8": "1",
        }
        run([sys.executable, "-I", "-X", "utf8", bootstrap, "setup"], env=runner, cwd=work)
        setup = dict(line.split("=", 1) for line in outputs.read_text().splitlines() if "=" in line)
        env = {
            **runner,
            "ACTIONS_ID_TOKEN_REQUEST_URL": sandbox_env["ACTIONS_ID_TOKEN_REQUEST_URL"],
            "ACTIONS_ID_TOKEN_REQUEST_TOKEN": sandbox_env["ACTIONS_ID_TOKEN_REQUEST_TOKEN"],
            "TRUSTED_PUBLISH_REPOSITORY_URL": sandbox_env["TRUSTED_PUBLISH_REPOSITORY_URL"],
            "TRUSTED_PUBLISH_PACKAGES_DIR": str(dist),
            "TRUSTED_PUBLISH_PRINT_HASH": "true",
        }
        run([setup["python"], "-I", "-X", "utf8", bootstrap, "run"], env=env, cwd=work)

        stage("4/4 Install the published package from the sandbox's index")
        user_venv = work / "user-venv"
        run([sys.executable, "-m", "venv", str(user_venv)])
        run(
            [
                str(venv_python(user_venv)),
                "-m",
                "pip",
                "install",
                "--quiet",
                "--no-cache-dir",
                "--disable-pip-version-check",
                "--index-url",
                sandbox_env["TRUSTED_PUBLISH_REPOSITORY_URL"].removesuffix("legacy/") + "simple/",
                f"{PROJECT}=={VERSION}",
            ],
            env=clean,
        )
        probe = subprocess.run(
            [str(venv_python(user_venv)), "-c", f"import {MODULE}; print({MODULE}.__version__)"],
            capture_output=True,
            text=True,
            check=False,
        )
        if probe.returncode != 0 or probe.stdout.strip() != VERSION:
            raise StageFailed(f"import {MODULE} failed: {probe.stderr.strip()}")
        print(f"import {MODULE} -> {probe.stdout.strip()}")
    except StageFailed as exc:
        print(f"\nDEMO FAILED: {exc}")
        return 1
    finally:
        if sandbox is not None:
            sandbox.terminate()
            sandbox.wait(timeout=10)
    print(
        f"\nDEMO PASSED: {PROJECT} {VERSION} published with trusted publishing and installed "
        "from the sandbox."
    )
    return 0


if __name__ == "__main__":
    sys.exit(main())
