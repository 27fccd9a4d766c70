"""twine's and uv's habits through the real CLI: positional paths, `-t`, `-r`, their variables,
`--trusted-publishing`, one boolean syntax, help that lists commands and defaults."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest

from support.pypiserver import PypiServer, run_pypiserver
from support.runs import Run, assert_no_secret
from trusted_publish.cli import main
from trusted_publish_sandbox import Sandbox

TESTPYPI = "https://test.pypi.org/legacy/"


def run(capsys: pytest.CaptureFixture[str], argv: list[str], env: dict[str, str]) -> Run:
    capsys.readouterr()
    code = main(argv, env=env)
    captured = capsys.readouterr()
    return Run(code, captured.out, captured.err)


def files(dist_dir: Path) -> list[str]:
    return sorted(str(p) for p in dist_dir.iterdir())


@pytest.fixture
def token_server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[PypiServer]:
    """A pypiserver whose one account is `__token__`: an index that takes API tokens."""
    with run_pypiserver(tmp_path_factory.mktemp("pypiserver"), user="__token__") as server:
        yield server


# --- positional paths ----------------------------------------------------------------------


def test_positional_files_and_a_quoted_glob_publish_to_the_sandbox(
    dist_dir: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    wheel, sdist = (p for p in sorted(dist_dir.iterdir(), key=lambda p: p.suffix != ".whl"))
    with Sandbox() as sb:
        env = {"GITHUB_ACTIONS": "true", "TRUSTED_PUBLISH_REPOSITORY_URL": sb.repository_url}
        # A glob the shell did not expand (quoted), and a file: as `twine upload dist/*`.
        result = run(capsys, [f"{dist_dir}/*.whl", str(sdist)], {**env, **sb.env()})
        assert result.code == 0, result.text
        stored = [f.filename for f in sb.files("tp-demo-package")]
        assert sorted(stored) == sorted([wheel.name, sdist.name])
        assert_no_secret(sb, result.text)


def test_a_switch_followed_by_a_path_takes_the_path_as_a_path(
    dist_dir: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    with Sandbox() as sb:
        env = {
            "GITHUB_ACTIONS": "true",
            "TRUSTED_PUBLISH_REPOSITORY_URL": sb.repository_url,
            **sb.env(),
        }
        result = run(capsys, ["--dry-run", *files(dist_dir)], env)
        assert result.code == 0, result.text
        assert "Dry run: 2 files would be uploaded" in result.out
        assert sb.upload_attempts == []


def test_a_glob_that_matches_nothing_is_an_input_error(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    result = run(capsys, [f"{tmp_path}/*.whl"], {})
    assert result.code == 2
    assert "matches no file" in result.err


# --- credentials: -t, twine's and uv's variables, .pypirc ----------------------------------


def test_a_token_with_t_uploads_to_an_index_as_user_token(
    token_server: PypiServer, dist_dir: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    argv = ["-t", token_server.password, "--repository-url", token_server.upload_url]
    result = run(capsys, [*argv, *files(dist_dir)], {})
    assert result.code == 0, result.text
    assert token_server.files() == sorted(p.name for p in dist_dir.iterdir())
    assert token_server.password not in result.text


def test_twines_variables_are_used_and_said_by_name(
    pypiserver: PypiServer, dist_dir: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    env = {
        "TWINE_USERNAME": pypiserver.user,
        "TWINE_PASSWORD": pypiserver.password,
        "TWINE_REPOSITORY_URL": pypiserver.upload_url,
    }
    result = run(capsys, files(dist_dir), env)
    assert result.code == 0, result.text
    assert "Index: from TWINE_REPOSITORY_URL" in result.out
    assert "Credentials: TWINE_USERNAME and TWINE_PASSWORD" in result.out
    assert pypiserver.password not in result.text
    assert len(pypiserver.files()) == 2


def test_uvs_variables_are_used_and_ours_win(
    pypiserver: PypiServer, dist_dir: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    env = {
        "UV_PUBLISH_USERNAME": pypiserver.user,
        "UV_PUBLISH_PASSWORD": pypiserver.password,
        # Ours name the index: uv's is never asked.
        "UV_PUBLISH_URL": "http://127.0.0.1:9/never-asked/",
        "TRUSTED_PUBLISH_REPOSITORY_URL": pypiserver.upload_url,
    }
    result = run(capsys, files(dist_dir), env)
    assert result.code == 0, result.text
    assert "Credentials: UV_PUBLISH_USERNAME and UV_PUBLISH_PASSWORD" in result.out
    assert "UV_PUBLISH_URL" not in result.out
    assert pypiserver.password not in result.text
    assert len(pypiserver.files()) == 2


def test_our_password_wins_over_twines(
    pypiserver: PypiServer, dist_dir: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    env = {
        "TRUSTED_PUBLISH_USER": pypiserver.user,
        "TRUSTED_PUBLISH_PASSWORD": pypiserver.password,
        "TWINE_USERNAME": "mallory",
        "TWINE_PASSWORD": "not-the-password",
        "TWINE_REPOSITORY_URL": pypiserver.upload_url,
    }
    result = run(capsys, files(dist_dir), env)
    assert result.code == 0, result.text
    assert "Credentials:" not in result.out
    assert "not-the-password" not in result.text


def test_a_pypirc_section_names_the_index_and_its_credentials(
    pypiserver: PypiServer, dist_dir: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    (tmp_path / ".pypirc").write_text(
        "[distutils]\nindex-servers =\n    pypi\n    private\n\n"
        f"[private]\nrepository = {pypiserver.upload_url}\n"
        f"username = {pypiserver.user}\npassword = {pypiserver.password}\n"
    )
    result = run(capsys, ["-r", "private", *files(dist_dir)], {"HOME": str(tmp_path)})
    assert result.code == 0, result.text
    assert f"Credentials: the [private] section of {tmp_path / '.pypirc'}" in result.out
    assert pypiserver.password not in result.text
    assert len(pypiserver.files()) == 2


def test_a_pypirc_password_is_not_used_where_trusted_publishing_is(
    dist_dir: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    with Sandbox() as sb:
        (tmp_path / ".pypirc").write_text(
            "[distutils]\nindex-servers = sb\n\n"
            f"[sb]\nrepository = {sb.repository_url}\npassword = pypi-saved-token\n"
        )
        env = {"HOME": str(tmp_path), "GITHUB_ACTIONS": "true", **sb.env()}
        result = run(capsys, ["-r", "sb", *files(dist_dir)], env)
        assert result.code == 0, result.text
        assert "Credentials:" not in result.out
        assert len(sb.mint_requests) == 1  # trusted publishing


# --- -r testpypi, and --repository is no abbreviation --------------------------------------


def test_repository_testpypi_resolves_to_testpypis_url_without_asking_it(
    dist_dir: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    home = {"HOME": str(tmp_path)}  # no .pypirc: the names are built in
    for flag in ("-r", "--repository"):
        result = run(capsys, ["check", flag, "testpypi", str(dist_dir)], home)
        assert result.code == 0, result.text
        assert f"Checking for {TESTPYPI}, with PyPI's rules." in result.out


def test_repository_is_not_read_as_an_abbreviation_of_repository_url(
    dist_dir: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    # `never` with no credential stops before any request: the index is only resolved.
    argv = ["--repository", "testpypi", "--trusted-publishing", "never", str(dist_dir)]
    result = run(capsys, argv, {"HOME": str(tmp_path)})
    assert result.code == 2, result.text
    assert "Index: testpypi" in result.out
    assert "`--trusted-publishing never`, and no password or token is given." in result.err


def test_an_unknown_repository_name_is_an_input_error(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    result = run(capsys, ["-r", "nosuch", "dist"], {"HOME": str(tmp_path)})
    assert result.code == 2
    assert "No repository named 'nosuch'" in result.err


# --- --trusted-publishing auto|always|never ------------------------------------------------


def test_always_takes_no_password_and_does_not_use_twines(
    dist_dir: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    result = run(capsys, ["--trusted-publishing", "always", "-t", "pypi-x", str(dist_dir)], {})
    assert result.code == 2
    assert "`--trusted-publishing always`, and a password" in result.err
    with Sandbox() as sb:
        env = {
            "GITHUB_ACTIONS": "true",
            "TRUSTED_PUBLISH_REPOSITORY_URL": sb.repository_url,
            "TWINE_PASSWORD": "pypi-ignored",
            **sb.env(),
        }
        result = run(capsys, ["--trusted-publishing", "always", *files(dist_dir)], env)
        assert result.code == 0, result.text
        assert "Not using TWINE_PASSWORD: `--trusted-publishing always`." in result.out
        assert len(sb.mint_requests) == 1


def test_always_fails_where_no_oidc_token_is_to_be_had(
    dist_dir: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    result = run(capsys, ["--trusted-publishing", "always", "--dry-run", str(dist_dir)], {})
    assert result.code == 4
    assert "none of the CIs PyPI trusts was detected" in result.err


# --- one boolean syntax, help --------------------------------------------------------------


@pytest.mark.parametrize(
    "flags",
    [["--no-verify-metadata"], ["--verify-metadata", "false"], ["--verify-metadata=false"]],
)
def test_one_boolean_syntax_in_check_and_publish(
    flags: list[str], tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    from support.builders import make_wheel, metadata_text

    # Only the metadata checks refuse it.
    make_wheel(tmp_path / "dist", metadata=metadata_text(extra_headers="Requires-Dist: x>=\n"))
    where = [str(tmp_path / "dist"), "--repository-url", "http://127.0.0.1:9/"]
    assert run(capsys, ["check", *where], {}).code == 3
    assert run(capsys, ["check", *where, *flags], {}).code == 0
    result = run(capsys, [*where, *flags, "--dry-run", "--trusted-publishing", "never"], {})
    assert "`--trusted-publishing never`" in result.err  # the flags parsed; stopped after


def test_a_negated_switch_takes_no_value(capsys: pytest.CaptureFixture[str]) -> None:
    with pytest.raises(SystemExit) as exc:
        main(["check", "--no-verbose", "true"], env={})
    assert exc.value.code == 2
    assert "--no-verbose takes no value" in capsys.readouterr().err


def test_help_lists_the_commands_and_the_defaults(capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["help"], env={}) == 0
    out = capsys.readouterr().out
    assert "commands:\n  check " in out
    assert "\n  sandbox " in out
    assert "\n  help " in out
    assert "(default: 4)" in out  # max-parallel
    assert "--skip-existing [true|false], --no-skip-existing" in out
    assert main(["help", "check"], env={}) == 0
    assert capsys.readouterr().out.startswith("usage: trusted-publish check")
    assert main(["help", "nosuch"], env={}) == 2


def test_twine_repository_names_the_index_for_check_too(
    dist_dir: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    env = {"HOME": str(tmp_path), "TWINE_REPOSITORY": "testpypi"}
    result = run(capsys, ["check", str(dist_dir)], env)
    assert result.code == 0, result.text
    assert "Index: TWINE_REPOSITORY, testpypi" in result.out
    assert f"Checking for {TESTPYPI}, with PyPI's rules." in result.out


def test_uvs_token_and_url_publish_as_user_token(
    token_server: PypiServer, dist_dir: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    env = {"UV_PUBLISH_TOKEN": token_server.password, "UV_PUBLISH_URL": token_server.upload_url}
    result = run(capsys, files(dist_dir), env)
    assert result.code == 0, result.text
    assert "Index: from UV_PUBLISH_URL (our own setting is not given)." in result.out
    assert "Credentials: UV_PUBLISH_TOKEN (our own settings are not given)." in result.out
    assert token_server.password not in result.text
    assert len(token_server.files()) == 2
