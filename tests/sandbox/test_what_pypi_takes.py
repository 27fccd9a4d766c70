"""What PyPI takes that a stricter reading would refuse, and what it will refuse soon.

Each rule follows warehouse's own code, through the real CLI (`trusted-publish check`, which
applies PyPI's rules; a publish to the sandbox) and the sandbox answering the form the client
sends:

- warehouse/forklift/decorators.py `sanitize` drops every form field whose value is UNKNOWN
  (distutils' placeholder) and metadata.py `parse_form_metadata` every empty one, before the
  metadata is validated: such a Home-page, Author-email, Download-URL... is no refusal;
- a Project-URL label used twice: packaging (and so twine) cannot read the field, so it is
  not sent and PyPI takes the file without its links; a warning says so. Sent twice, the
  label is refused by warehouse ("'project_urls' has invalid data");
- a Markdown README rendering to nothing is refused (the rule itself is in rule_cases, with
  every other refusal); one that renders only to a no-break space is not;
- pypi/warehouse PR #19411 (pending): a WHEEL file not UTF-8, with compressed tags, or tags
  other than the file name's is a warning today, with the fix; PyPI still takes it.
"""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest
import requests

from support.builders import make_wheel, metadata_text
from support.runs import publish
from support.sandbox_client import client_form, encode_multipart, session
from trusted_publish.cli import main
from trusted_publish.dists.pypi_rules import form_data
from trusted_publish_sandbox import Sandbox

SPEC = "See https://packaging.python.org/specifications/core-metadata for more information."


@pytest.fixture
def sb() -> Iterator[Sandbox]:
    with Sandbox(users={"alice": "s3cret"}) as sandbox:
        yield sandbox


def check(folder: Path, capsys: pytest.CaptureFixture[str]) -> tuple[int, str]:
    capsys.readouterr()
    code = main(["check", str(folder)], env={})
    captured = capsys.readouterr()
    return code, " ".join((captured.out + captured.err).split())


def post(sb: Sandbox, fields: list[tuple[str, str]], path: Path) -> requests.Response:
    body, content_type = encode_multipart(fields, path.name, path.read_bytes())
    return session().post(
        sb.repository_url,
        data=body,
        headers={"Content-Type": content_type},
        auth=("alice", "s3cret"),
        allow_redirects=False,
    )


def wheel(folder: Path, name: str, headers: str = "", **kwargs: str) -> Path:
    meta = metadata_text(name.replace("_", "-"), extra_headers=headers, **kwargs)
    return make_wheel(folder, name, metadata=meta)


# --- UNKNOWN and empty fields ----------------------------------------------------------------

#: A field of metadata_text's (or a new one) -> the value PyPI drops from the form.
FORGIVEN = {
    "home-page-unknown": ("Home-page", "UNKNOWN"),
    "author-email-unknown": ("Author-email", "UNKNOWN"),
    "maintainer-email-unknown": ("Maintainer-email", " UNKNOWN "),
    "download-url-unknown": ("Download-URL", "UNKNOWN"),
    "requires-python-unknown": ("Requires-Python", "UNKNOWN"),
    "home-page-empty": ("Home-page", ""),
}


@pytest.mark.parametrize("case", list(FORGIVEN))
def test_a_field_pypi_drops_is_no_refusal(
    sb: Sandbox, tmp_path: Path, capsys: pytest.CaptureFixture[str], case: str
) -> None:
    field, value = FORGIVEN[case]
    lines = [
        line for line in metadata_text("tp-unknown").split("\n") if not line.startswith(f"{field}:")
    ]
    lines.insert(3, f"{field}: {value}")
    path = make_wheel(tmp_path / "dist", "tp_unknown", metadata="\n".join(lines))
    code, out = check(path.parent, capsys)
    assert code == 0, out
    run = publish(sb, path.parent, capsys)
    assert run.code == 0, run.text
    assert [f.filename for f in sb.files("tp-unknown")] == [path.name]


def test_the_sandbox_drops_a_field_as_warehouse_s_sanitize_does(
    sb: Sandbox, tmp_path: Path
) -> None:
    path = wheel(tmp_path, "demo")
    form = client_form(path)
    # The LAST value of a key decides (webob's MultiDict.get), and drops every value of it.
    dropped = [*form, ("classifiers", "Framework :: Nonesuch"), ("classifiers", " UNKNOWN ")]
    assert post(sb, dropped, path).status_code == 200
    kept = [*form, ("classifiers", "UNKNOWN"), ("classifiers", "Framework :: Django")]
    resp = post(sb, kept, path)
    assert (resp.status_code, resp.text) == (400, f"'UNKNOWN' is not a valid classifier. {SPEC}")


def test_sanitize_keeps_webob_s_order_and_escapes_nul() -> None:
    pairs = [("a", "x"), ("b", "1\x00"), ("a", "UNKNOWN"), ("b", "2"), ("c", "")]
    # "a": its last value is UNKNOWN, both go; "b": its last value has no NUL, kept as is.
    assert form_data.sanitize(pairs) == [("b", "1\x00"), ("b", "2"), ("c", "")]
    assert form_data.sanitize([("b", "2"), ("b", "1\x00")]) == [("b", "1\\x00")]


# --- Project-URL labels ------------------------------------------------------------------


def test_a_project_url_label_used_twice_is_a_warning_and_pypi_takes_the_file(
    sb: Sandbox, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    path = wheel(tmp_path / "dist", "tp_twice", "Project-URL: Source, https://example.org/2\n")
    code, out = check(path.parent, capsys)
    assert code == 0, out
    assert (
        "metadata field Project-URL uses the label 'Source' more than once: PyPI takes the "
        "file, but without any of its Project-URL links"
    ) in out
    assert "twine and packaging's metadata validation refuse it" in out
    run = publish(sb, path.parent, capsys)
    assert run.code == 0, run.text
    assert "uses the label 'Source' more than once" in " ".join(run.text.split())
    # The form the client sent had no project_urls, as twine's would not (if it sent it).
    assert not any(key == "project_urls" for key, _ in client_form(path))


def test_a_project_url_label_sent_twice_is_refused_as_warehouse_does(
    sb: Sandbox, tmp_path: Path
) -> None:
    path = wheel(tmp_path, "demo")
    twice = [("project_urls", "Docs, https://a.org"), ("project_urls", "Docs, https://b.org")]
    resp = post(sb, [*client_form(path), *twice], path)
    assert (resp.status_code, resp.text) == (400, f"'project_urls' has invalid data. {SPEC}")


# --- a Markdown README -------------------------------------------------------------------


def test_a_markdown_readme_that_renders_to_something_passes(
    sb: Sandbox, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    # A no-break space is no blank in Markdown: comrak renders a paragraph of it.
    path = wheel(tmp_path / "dist", "tp_nbsp", body="\u00a0\n")
    code, out = check(path.parent, capsys)
    assert code == 0, out
    assert post(sb, client_form(path), path).status_code == 200


# --- the WHEEL file (pypi/warehouse PR #19411, pending) ------------------------------------

WHEEL = "Wheel-Version: 1.0\nGenerator: tests\nRoot-Is-Purelib: true\n"
FIX = "Rebuild the wheel with its build backend; never rename a wheel"


@pytest.mark.parametrize(
    ("wheel_file", "reason"),
    [
        (
            (WHEEL + "Tag: py3-none-any\n\u00e9").encode("latin-1"),
            "WHEEL file is not UTF-8 encoded",
        ),
        (
            WHEEL + "Tag: py2.py3-none-any\n",
            "Tags in WHEEL file must be expanded, not compressed: 'py2.py3-none-any'",
        ),
        (
            WHEEL + "Tag: cp312-cp312-manylinux_2_17_x86_64\n",
            "Wheel filename and WHEEL file tags mismatch: 'py3-none-any' vs. "
            "'cp312-cp312-manylinux_2_17_x86_64'",
        ),
        (
            WHEEL + "Tag: py3-none-any\nTag: py2-none-any\n",
            "WHEEL file has tags not in wheel filename: 'py2-none-any'",
        ),
    ],
)
def test_a_wheel_file_pypi_will_refuse_is_a_warning_with_the_fix(
    sb: Sandbox,
    tmp_path: Path,
    capsys: pytest.CaptureFixture[str],
    wheel_file: str | bytes,
    reason: str,
) -> None:
    path = make_wheel(tmp_path / "dist", "tp_tags")
    if isinstance(wheel_file, bytes):
        # Written as bytes: make_wheel takes text, so swap the member in after the build.
        path = _with_member(path, "tp_tags-1.0.0.dist-info/WHEEL", wheel_file)
    else:
        path = make_wheel(tmp_path / "dist", "tp_tags", wheel_file=wheel_file)
    code, out = check(path.parent, capsys)
    assert code == 0, out
    assert (
        f"tp_tags-1.0.0.dist-info/WHEEL: {reason}. Installers (pip, uv) read a wheel's tags "
        "from WHEEL"
    ) in out
    assert f'pypi/warehouse PR #19411 is merged ("Invalid distribution file. {reason}")' in out
    assert FIX in out
    # PyPI (warehouse main) still takes it, and so does the sandbox.
    assert post(sb, client_form(path), path).status_code == 200


def test_a_wheel_file_that_matches_its_name_gives_no_warning(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    path = make_wheel(
        tmp_path,
        "tp_two",
        tag="py2.py3-none-any",
        wheel_file=WHEEL + "Tag: py2-none-any\nTag: py3-none-any\n",
    )
    code, out = check(path.parent, capsys)
    assert code == 0, out
    assert "WHEEL" not in out


def _with_member(path: Path, member: str, data: bytes) -> Path:
    import zipfile

    copy = path.with_suffix(".tmp")
    with zipfile.ZipFile(path) as src, zipfile.ZipFile(copy, "w", zipfile.ZIP_DEFLATED) as dst:
        for info in src.infolist():
            dst.writestr(info, data if info.filename == member else src.read(info))
    copy.replace(path)
    return path
