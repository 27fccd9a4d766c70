"""The command line, and the one place where an error becomes an exit code.

`trusted-publish [PATH ...] [flags]` publishes (the flags mirror the action's inputs; each
also reads `TRUSTED_PUBLISH_<NAME>` from the environment, which is how the action passes
them; twine's and uv's options and variables are taken too, see `credentials.other_tools`).
The other commands are registered once, in `COMMANDS`: `check`, `doctor`, `sandbox`, `help`.
One boolean syntax everywhere: `--flag`, `--no-flag`, `--flag true|false`.
"""

from __future__ import annotations

import argparse
import glob
import os
import sys
import traceback
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Callable, Optional

from trusted_publish import __version__
from trusted_publish.console import Console, untrusted
from trusted_publish.errors import InputError, PublishError

#: Exit code for a bug of ours (not a user's mistake): sysexits' EX_SOFTWARE.
EXIT_INTERNAL = 70

#: Where a boolean switch puts a word it took that is not true/false: a path after it
#: (`--dry-run dist/x.whl`), given back to the positional paths.
_SPILLED = "_spilled_paths"


class _Switch(argparse.Action):
    """A boolean: `--x` (true), `--no-x` (false), `--x true|false` (as the action passes it)."""

    def __init__(self, option_strings: Sequence[str], dest: str, **kwargs: Any) -> None:
        negated = [f"--no-{o[2:]}" for o in option_strings if o.startswith("--")]
        kwargs.setdefault("metavar", "true|false")
        super().__init__([*option_strings, *negated], dest, nargs="?", **kwargs)

    def __call__(
        self,
        parser: argparse.ArgumentParser,
        namespace: argparse.Namespace,
        values: Any,
        option_string: Optional[str] = None,
    ) -> None:
        word = values.strip().lower() if isinstance(values, str) else None
        if isinstance(values, str) and word not in ("true", "false") and _a_path(values):
            getattr(namespace, _SPILLED).append(values)
            word = None
        negated = bool(option_string and option_string.startswith("--no-"))
        if negated and word is not None:
            parser.error(f"{option_string} takes no value (or use {self.option_strings[0]} {word})")
        setattr(namespace, self.dest, "false" if negated else (word or "true"))

    def format_usage(self) -> str:
        return " | ".join(self.option_strings)


def _a_path(word: str) -> bool:
    """A word after a switch that is a path (`--dry-run dist/*`), not a misspelt value
    (`--verbose yes`, which the inputs then refuse by name)."""
    return any(c in word for c in "/\\.*?[") or Path(word).exists()


class _Formatter(argparse.RawDescriptionHelpFormatter):
    def _format_action_invocation(self, action: argparse.Action) -> str:
        if isinstance(action, _Switch):
            return ", ".join(
                o if o.startswith("--no-") else f"{o} [true|false]" for o in action.option_strings
            )
        return super()._format_action_invocation(action)


def _parser(prog: str, description: str, epilog: str | None = None) -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog=prog,
        description=description,
        epilog=epilog,
        formatter_class=_Formatter,
        # `--repository testpypi` must never be read as an abbreviation of `--repository-url`.
        allow_abbrev=False,
    )
    parser.set_defaults(**{_SPILLED: []})
    return parser


def _paths_argument(parser: argparse.ArgumentParser, default: str) -> None:
    parser.add_argument(
        "paths",
        nargs="*",
        metavar="PATH",
        help="distribution files, folders (searched with their sub-folders) or quoted globs "
        f"(`'dist/*'`), as `twine upload` and `uv publish` take them (default: {default})",
    )


def _index_arguments(parser: Any, repository_url: str) -> None:
    # `parser`: a parser or an argument group (argparse names no public type for both).
    parser.add_argument(
        "-r",
        "--repository",
        metavar="NAME",
        help="the index by name: pypi, testpypi (built in) or a section of the .pypirc, as "
        "twine reads it (command line only)",
    )
    parser.add_argument(
        "--config-file",
        type=Path,
        metavar="PATH",
        help="the .pypirc to read `--repository` from (default: ~/.pypirc; command line only)",
    )
    if repository_url:
        parser.add_argument("--repository-url", help=repository_url)


def _publish_parser() -> argparse.ArgumentParser:
    # pydantic is imported here, not at the top: `trusted-publish check` never needs it.
    from trusted_publish.inputs import Inputs, env_name, input_name

    parser = _parser(
        "trusted-publish",
        "Publish Python distributions to PyPI with trusted publishing (OIDC).",
        "commands:\n"
        + "\n".join(f"  {name:<10}{command.summary}" for name, command in COMMANDS.items())
        + "\n\nEvery flag of the action's inputs can also be given as the environment variable "
        "named in its help;\na flag wins over its variable. Where neither is given, twine's "
        "(TWINE_USERNAME, TWINE_PASSWORD,\nTWINE_REPOSITORY_URL, TWINE_REPOSITORY) and uv's "
        "(UV_PUBLISH_USERNAME, UV_PUBLISH_PASSWORD,\nUV_PUBLISH_TOKEN, UV_PUBLISH_URL) "
        "variables are used, and the run says which.",
    )
    parser.usage = "trusted-publish [options] [PATH ...]\n       trusted-publish COMMAND ..."
    parser.add_argument("--version", action="version", version=f"trusted-publish {__version__}")
    _paths_argument(parser, "`packages-dir`")
    habits = parser.add_argument_group("twine's and uv's options")
    habits.add_argument(
        "-t",
        "--token",
        help="an API token (pypi-...), sent with the user __token__. Prefer the variable "
        f"{env_name('password')}: a command line is visible to other processes",
    )
    _index_arguments(habits, "")
    habits.add_argument(
        "--trusted-publishing",
        choices=("auto", "always", "never"),
        type=lambda value: "auto" if value == "automatic" else value,
        default="auto",
        help="as uv spells it: `auto` uses trusted publishing when no password or token is "
        "given, `always` fails if the CI has no OIDC token (and takes no password), `never` "
        "needs a password or token (default: %(default)s; command line only)",
    )
    inputs = parser.add_argument_group("the action's inputs")
    short = {"user": ("-u", "--username"), "password": ("-p",)}
    for name, info in Inputs.model_fields.items():
        flags = [f"--{input_name(name)}", *short.get(name, ())]
        help_text = f"{(info.description or '').strip()} [env {env_name(name)}]"
        if info.default is not None:
            shown = str(info.default).lower() if isinstance(info.default, bool) else info.default
            help_text += f" (default: {shown})"
        if info.annotation in (bool, Optional[bool]):
            inputs.add_argument(*flags, dest=name, action=_Switch, help=help_text)
        elif name == "password":
            inputs.add_argument(
                *flags,
                dest=name,
                help=help_text + " Prefer the environment variable: a command line is "
                "visible to other processes.",
            )
        else:
            inputs.add_argument(*flags, dest=name, help=help_text)
    return parser


def _check_parser() -> argparse.ArgumentParser:
    from trusted_publish.index.target import PYPI_UPLOAD_URL

    parser = _parser(
        "trusted-publish check",
        "Check distributions as the publish step would, without network or credentials. "
        "Reads the same TRUSTED_PUBLISH_* variables as a publish (a flag wins), so the check "
        "and the upload agree.",
    )
    _paths_argument(parser, "TRUSTED_PUBLISH_PACKAGES_DIR, else dist")
    _index_arguments(
        parser,
        f"the index the files are meant for (default: TRUSTED_PUBLISH_REPOSITORY_URL, else "
        f"{PYPI_UPLOAD_URL})",
    )
    parser.add_argument(
        "--pypi-like",
        choices=("auto", "true", "false"),
        help="PyPI's own rules (no local versions, the README renders, the 100 MiB size "
        "limit...) apply to a PyPI-like index: `auto`, PyPI and TestPyPI; `true`, any index; "
        "`false`, none (default: TRUSTED_PUBLISH_PYPI_LIKE, else auto)",
    )
    parser.add_argument(
        "--verify-metadata",
        action=_Switch,
        help="check each file's metadata, as `verify-metadata` does (default: "
        "TRUSTED_PUBLISH_VERIFY_METADATA, else true)",
    )
    parser.add_argument(
        "--verbose",
        action=_Switch,
        help="print debug lines (default: TRUSTED_PUBLISH_VERBOSE, else false)",
    )
    return parser


def _parse(parser: argparse.ArgumentParser, args: Sequence[str]) -> dict[str, Any]:
    """The parsed flags; a word a switch took that is not true/false is a path again."""
    values = vars(parser.parse_args(args))
    values["paths"] = [*values.pop(_SPILLED), *values.get("paths", [])]
    return values


def expand_paths(given: Sequence[str]) -> list[Path]:
    """Positional paths as the files and folders they name: a glob (quoted, so the shell did
    not expand it; or on Windows, where no shell does) is expanded here, sorted."""
    paths: list[Path] = []
    for item in given:
        if glob.has_magic(item):
            # Path.glob takes no absolute pattern; glob.glob takes both.
            matched = sorted(glob.glob(item))  # noqa: PTH207
            if not matched:
                raise InputError(
                    f"The pattern {untrusted(item)!r} matches no file.",
                    fix="Build the distributions first (e.g. `python -m build`), or correct "
                    "the pattern (e.g. 'dist/*').",
                )
            paths.extend(Path(m) for m in matched)
        else:
            paths.append(Path(item))
    return paths


def main(argv: Sequence[str] | None = None, env: Mapping[str, str] | None = None) -> int:
    """Run the CLI and return its exit code.

    0 success, 2 inputs, 3 distributions, 4 credentials, 5 upload, 6 doctor found problems,
    70 a bug of ours.
    """
    args = list(sys.argv[1:] if argv is None else argv)
    environ: Mapping[str, str] = os.environ if env is None else env
    console = Console(env=environ)
    try:
        command = COMMANDS.get(args[0]) if args else None
        if command is not None:
            return command.run(args[1:], console, environ)
        return _run_publish(_parse(_publish_parser(), args), console, environ)
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


def _mask(console: Console, secret: str, user: str) -> None:
    # As given and as sent (the user input is stripped of white space).
    for name in dict.fromkeys((user, user.strip())):
        console.mask(secret, basic_user=name)


def _run_publish(flags: dict[str, Any], console: Console, env: Mapping[str, str]) -> int:
    from trusted_publish.credentials import other_tools, providers
    from trusted_publish.inputs import env_name, load_inputs
    from trusted_publish.publish import only_a_warning, publish
    from trusted_publish.report import Report
    from trusted_publish.runtime.signals import StopRequest, stop_on_signals

    _register_secrets(flags, console, env)
    provider = flags.get("trusted_publishing_provider") or env.get(
        env_name("trusted_publishing_provider"), ""
    )
    config_file = flags.pop("config_file")
    index, name = other_tools.borrow_index(
        flags, env, repository=flags.pop("repository"), config_file=config_file
    )
    if "repository_url" in index.values:
        console.mask_url(index.values["repository_url"])
    for line in index.said:
        console.info(line)
    borrowed = other_tools.borrow_credentials(
        flags,
        env,
        name=name,
        config_file=config_file,
        mode=flags.pop("trusted_publishing"),
        oidc_announced=providers.announced(env, provider.strip().lower() or "auto"),
    )
    for secret, user in borrowed.secrets:
        _mask(console, secret, user)
    for line in borrowed.said:
        console.info(line)
    paths = expand_paths(flags.pop("paths"))
    flags.update(index.values)
    flags.update(borrowed.values)
    inputs = load_inputs(flags, env)
    console.verbose = inputs.verbose
    report = Report(index=inputs.index, dry_run=inputs.dry_run)
    stop = StopRequest()
    with stop_on_signals(stop):
        try:
            publish(inputs, console, env, report, stop=stop, paths=paths)
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
            # Whatever goes wrong while writing them is a warning: the run's result stands.
            only_a_warning(
                console, "writing the outputs and the job summary", lambda: report.write(console)
            )
    return 0


def _register_secrets(flags: dict[str, Any], console: Console, env: Mapping[str, str]) -> None:
    """The password is registered with the console before anything else can print it, with
    the user it goes with (an echoed Basic header carries both), and so is whatever the
    index URLs carry in a query string: ours, and twine's and uv's. `--token` becomes the
    password of the user __token__ here."""
    from trusted_publish.credentials import other_tools
    from trusted_publish.http.policy import TOKEN_USER
    from trusted_publish.inputs import env_name

    token = flags.pop("token")
    if token is not None:
        if flags.get("password") is not None:
            raise InputError("`--token` and `--password` both give the secret: give one.")
        if (flags.get("user") or TOKEN_USER) != TOKEN_USER:
            raise InputError(f"`--token` goes with the user {TOKEN_USER}, not `--username`.")
        flags.update(password=token, user=TOKEN_USER)
    user = flags.get("user") or env.get(env_name("user")) or TOKEN_USER
    for value in (flags.get("password"), env.get(env_name("password"))):
        if value:
            _mask(console, value, user)
    for variable in other_tools.SECRET_VARIABLES:
        if env.get(variable):
            for name in (env.get("TWINE_USERNAME"), env.get("UV_PUBLISH_USERNAME"), TOKEN_USER):
                if name:
                    _mask(console, env[variable], name)
    urls = [flags.get(name) or env.get(env_name(name)) for name in ("repository_url", "index_url")]
    for url in (*urls, *(env.get(v) for v in other_tools.URL_VARIABLES)):
        if url:
            console.mask_url(url)


def _doctor_parser() -> argparse.ArgumentParser:
    from trusted_publish.doctor.command import parser

    return parser()


def _run_doctor(argv: Sequence[str], console: Console, env: Mapping[str, str]) -> int:
    from trusted_publish.doctor.command import main as doctor

    return doctor(argv, console, env)


def _run_sandbox(args: Sequence[str], console: Console, env: Mapping[str, str]) -> int:
    """The emulator as a child process (`runtime.sandbox`)."""
    from trusted_publish.runtime.sandbox import run_sandbox

    return run_sandbox(args)


def _run_check(argv: Sequence[str], console: Console, env: Mapping[str, str]) -> int:
    from trusted_publish.credentials.other_tools import borrow_index
    from trusted_publish.dists.discover import collect, describe
    from trusted_publish.index.target import PYPI_UPLOAD_URL, Index

    args = _parse(_check_parser(), argv)

    def setting(name: str, default: str) -> str:
        # A flag, else the variable a publish reads (empty: not given), else the default.
        given = args.get(name)
        if given is None:
            given = env.get(f"TRUSTED_PUBLISH_{name.upper()}", "").strip() or default
        return str(given)

    console.verbose = _boolean(setting("verbose", "false"), "verbose")
    borrowed, _ = borrow_index(
        args, env, repository=args["repository"], config_file=args["config_file"]
    )
    for line in borrowed.said:
        console.info(line)
    url = borrowed.values.get("repository_url") or setting("repository_url", PYPI_UPLOAD_URL)
    pypi_like = setting("pypi_like", "auto").lower()
    if pypi_like not in ("auto", "true", "false"):
        raise InputError(f"`pypi-like` must be auto, true or false, not {untrusted(pypi_like)!r}.")
    try:
        index = Index.from_urls(url, pypi_like=pypi_like)  # type: ignore[arg-type]
    except ValueError as exc:
        raise InputError(f"`--repository-url`: {exc}") from None
    rules = "with PyPI's rules" if index.pypi_like else "without PyPI's own rules (not PyPI-like)"
    console.info(f"Checking for {index.name}, {rules}.")
    paths = expand_paths(args["paths"])
    dists = collect(
        paths or Path(setting("packages_dir", "dist")),
        verify_metadata=_boolean(setting("verify_metadata", "true"), "verify-metadata"),
        console=console,
        index=index,
        suggest_check=False,
    )
    for dist in dists:
        console.info(f"ok  {describe(dist)}: {dist.name} {dist.version}")
    console.info(f"{len(dists)} distribution{'s' if len(dists) != 1 else ''} ready to publish.")
    return 0


def _boolean(value: str, name: str) -> bool:
    # The action's spelling (and the model's rule): true or false, any case.
    if value.strip().lower() not in ("true", "false"):
        raise InputError(
            f"`{name}` must be 'true' or 'false' (any case), not {untrusted(value)!r}."
        )
    return value.strip().lower() == "true"


def _run_help(args: Sequence[str], console: Console, env: Mapping[str, str]) -> int:
    """`trusted-publish help [COMMAND]`: the command's help (the publish flags without one)."""
    if len(args) > 1 or (args and args[0] not in COMMANDS):
        raise InputError(
            f"No command {untrusted(' '.join(args))!r}.",
            fix="Commands: " + ", ".join(COMMANDS) + "; `trusted-publish help` for the flags.",
        )
    if not args:
        _publish_parser().print_help()
    elif args[0] == "sandbox":
        return _run_sandbox(["--help"], console, env)
    else:
        parser = COMMANDS[args[0]].parser
        (parser or _publish_parser)().print_help()
    return 0


@dataclass(frozen=True)
class Command:
    """A command besides publishing: `trusted-publish NAME ...`."""

    summary: str
    run: Callable[[Sequence[str], Console, Mapping[str, str]], int]
    parser: Optional[Callable[[], argparse.ArgumentParser]] = None
    """Its parser, for `help NAME` (None: the command prints its own help)."""


#: Every command, in the order `--help` lists them: the one place a command is registered.
COMMANDS: dict[str, Command] = {
    "check": Command(
        "check distributions as a publish would, with no network and no credentials",
        _run_check,
        _check_parser,
    ),
    "doctor": Command(
        "check a repository's release workflows offline, before the first release",
        _run_doctor,
        _doctor_parser,
    ),
    "sandbox": Command(
        "run the local GitHub/GitLab/Google OIDC + PyPI emulator (the [sandbox] extra)",
        _run_sandbox,
    ),
    "help": Command("show the help of a command: `trusted-publish help [COMMAND]`", _run_help),
}
