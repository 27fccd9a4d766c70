"""The command line, and the one place where an error becomes an exit code.

`trusted-publish [flags]` publishes (flags mirror the action's inputs; each also reads
`TRUSTED_PUBLISH_<NAME>` from the environment, which is how the action passes them).
`trusted-publish check [DIR]` checks distributions with no network and no credentials.
`trusted-publish sandbox ...` runs the local GitHub-OIDC + PyPI emulator.
"""

from __future__ import annotations

import argparse
import os
import sys
import traceback
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any, Optional

from trusted_publish import __version__
from trusted_publish.console import Console, untrusted
from trusted_publish.errors import PublishError

#: Exit code for a bug of ours (not a user's mistake): sysexits' EX_SOFTWARE.
EXIT_INTERNAL = 70


def _publish_parser() -> argparse.ArgumentParser:
    # pydantic is imported here, not at the top: `trusted-publish check` never needs it.
    from trusted_publish.inputs import Inputs, env_name, input_name

    parser = argparse.ArgumentParser(
        prog="trusted-publish",
        description="Publish Python distributions to PyPI with trusted publishing (OIDC). "
        "Other commands: `trusted-publish check [DIR]`, `trusted-publish sandbox --help`.",
        epilog="Every flag can also be given as the environment variable named in its help.",
    )
    parser.add_argument("--version", action="version", version=f"trusted-publish {__version__}")
    for name, info in Inputs.model_fields.items():
        flag = f"--{input_name(name)}"
        help_text = f"{(info.description or '').strip()} [env {env_name(name)}]"
        if info.annotation in (bool, Optional[bool]):
            # `--skip-existing` alone means true; `--skip-existing=false` mirrors the input.
            parser.add_argument(
                flag, dest=name, nargs="?", const="true", metavar="true|false", help=help_text
            )
        elif name == "password":
            parser.add_argument(
                flag,
                dest=name,
                help=help_text + " Prefer the environment variable: a command line is "
                "visible to other processes.",
            )
        else:
            parser.add_argument(flag, dest=name, help=help_text)
    return parser


def _check_parser() -> argparse.ArgumentParser:
    from trusted_publish.index.target import PYPI_UPLOAD_URL

    parser = argparse.ArgumentParser(
        prog="trusted-publish check",
        description="Check distributions as the publish step would, "
        "without network or credentials. Sub-folders are searched too.",
    )
    parser.add_argument("packages_dir", nargs="?", default="dist", help="folder (default: dist)")
    parser.add_argument(
        "--repository-url",
        default=PYPI_UPLOAD_URL,
        help="the index the files are meant for (default: %(default)s)",
    )
    parser.add_argument(
        "--pypi-like",
        choices=("auto", "true", "false"),
        default="auto",
        help="PyPI's own rules (no local versions, the README renders, the 100 MiB size "
        "limit...) apply to a PyPI-like index: `auto`, PyPI and TestPyPI; `true`, any index; "
        "`false`, none (default: %(default)s)",
    )
    parser.add_argument(
        "--no-verify-metadata",
        dest="verify_metadata",
        action="store_false",
        help="skip the metadata checks, as `verify-metadata: false` does",
    )
    parser.add_argument("--verbose", action="store_true")
    return parser


def main(argv: Sequence[str] | None = None, env: Mapping[str, str] | None = None) -> int:
    """Run the CLI and return its exit code.

    0 success, 2 inputs, 3 distributions, 4 credentials, 5 upload, 70 a bug of ours.
    """
    args = list(sys.argv[1:] if argv is None else argv)
    environ: Mapping[str, str] = os.environ if env is None else env
    if args[:1] == ["sandbox"]:
        return _run_sandbox(args[1:])

    console = Console(env=environ)
    try:
        if args[:1] == ["check"]:
            return _run_check(_check_parser().parse_args(args[1:]), console)
        return _run_publish(vars(_publish_parser().parse_args(args)), console, environ)
    except PublishError as exc:
        _show_error(console, exc)
        return exc.exit_code
    except KeyboardInterrupt:
        console.error("Interrupted.")
        return 130
    except Exception as exc:  # noqa: BLE001 - our own bugs still end in one clear ::error::
        # A traceback quotes whatever the failing line held (a file name, an answer): it is
        # printed as a block that can't act as workflow commands.
        console.verbatim(traceback.format_exc())
        console.error(
            f"{_internal_error(exc)} This is a bug in trusted-publish; "
            "please report it with the log above.",
            title="trusted-publish: internal error",
        )
        return EXIT_INTERNAL


def _show_error(console: Console, exc: PublishError) -> None:
    console.error(exc.render(), title=f"trusted-publish: {exc.stage}")


def _internal_error(exc: BaseException) -> str:
    return f"Internal error ({type(exc).__name__}): {untrusted(exc)}."


def _run_publish(flags: dict[str, Any], console: Console, env: Mapping[str, str]) -> int:
    from trusted_publish.http.policy import TOKEN_USER
    from trusted_publish.inputs import env_name, load_inputs
    from trusted_publish.publish import publish
    from trusted_publish.report import Report
    from trusted_publish.runtime.signals import StopRequest, stop_on_signals

    # The password is registered with the console before anything else can print it, with
    # the user it goes with (an echoed Basic header carries both), and so is whatever the
    # index URLs carry in a query string.
    user = flags.get("user") or env.get(env_name("user")) or TOKEN_USER
    for value in (flags.get("password"), env.get(env_name("password"))):
        if value:
            # As given and as sent (the user input is stripped of white space).
            for name in dict.fromkeys((user, user.strip())):
                console.mask(value, basic_user=name)
    for name in ("repository_url", "index_url"):
        for url in (flags.get(name), env.get(env_name(name))):
            if url:
                console.mask_url(url)
    inputs = load_inputs(flags, env)
    console.verbose = inputs.verbose
    report = Report(index=inputs.index, dry_run=inputs.dry_run)
    stop = StopRequest()
    with stop_on_signals(stop):
        try:
            publish(inputs, console, env, report, stop=stop)
        except PublishError as exc:
            report.error = exc
            # Shown first, so nothing that goes wrong while writing the outputs can hide it.
            _show_error(console, exc)
            return exc.exit_code
        except BaseException as exc:
            # Our own bug (or an interrupt before the handlers): never a success mark.
            report.error = PublishError(_internal_error(exc))
            raise
        finally:
            # Outputs and the summary page are written whole, failure included: a signal
            # arriving now only hurries what is left, it does not cut the report short.
            stop.raise_at_once = False
            if report.error is not None:
                report.stopped()
            report.write(console)
    return 0


def _run_sandbox(args: Sequence[str]) -> int:
    """Run the emulator (package trusted_publish_sandbox) as a child process.

    The client never imports the sandbox: it is a sibling package with its own
    dependencies (the `[sandbox]` extra). SIGTERM is passed on to the child, which stops
    cleanly; Ctrl-C reaches the child from the terminal too, and ends here in 130.
    """
    import signal
    import subprocess
    import threading

    child = subprocess.Popen([sys.executable, "-m", "trusted_publish_sandbox", *args])

    def _forward(signum: int, frame: object) -> None:
        child.send_signal(signum)

    # Signal handlers can only be set from the main thread (a caller may run main() elsewhere).
    in_main_thread = threading.current_thread() is threading.main_thread()
    previous = signal.signal(signal.SIGTERM, _forward) if in_main_thread else None
    try:
        code = child.wait()
    except KeyboardInterrupt:
        child.terminate()
        try:
            child.wait(timeout=10)
        except subprocess.TimeoutExpired:
            child.kill()
            child.wait()
        return 130
    finally:
        if in_main_thread:
            signal.signal(signal.SIGTERM, previous if previous is not None else signal.SIG_DFL)
    # A child ended by a signal has a negative code; a shell would say 128 + the signal.
    return code if code >= 0 else 128 - code


def _run_check(args: argparse.Namespace, console: Console) -> int:
    from trusted_publish.dists.discover import collect, describe
    from trusted_publish.errors import InputError
    from trusted_publish.index.target import Index

    console.verbose = args.verbose
    try:
        index = Index.from_urls(args.repository_url, pypi_like=args.pypi_like)
    except ValueError as exc:
        raise InputError(f"`--repository-url`: {exc}") from None
    dists = collect(
        Path(args.packages_dir),
        verify_metadata=args.verify_metadata,
        console=console,
        index=index,
        suggest_check=False,
    )
    for dist in dists:
        console.info(f"ok  {describe(dist)}: {dist.name} {dist.version}")
    console.info(f"{len(dists)} distribution{'s' if len(dists) != 1 else ''} ready to publish.")
    return 0
