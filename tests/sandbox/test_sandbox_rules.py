"""The sandbox refuses what PyPI refuses, in PyPI's words, and judges a big archive quickly.

Each file of support.rule_cases' CASES goes straight to the sandbox over HTTP, with the form
the client would send for it and no preflight: the sandbox, our PyPI look-alike, must refuse
it with warehouse's status code and text (written out here, as warehouse writes it), and the
client's `check` must refuse it before any upload, quoting that text. Mixed with good files,
the client refuses before any request, so the sandbox records no upload at all. Then speed:
an sdist is inflated once, and a big archive being checked does not hold up a small upload
beside it.
"""

from __future__ import annotations

import random
import threading
import time
from collections.abc import Iterator
from pathlib import Path

import pytest
import requests
from packaging.requirements import InvalidRequirement, Requirement
from trove_classifiers import deprecated_classifiers

from support.builders import make_sdist, make_wheel, metadata_text
from support.rule_cases import (
    CASES,
    DEPRECATED_WITH,
    DEPRECATED_WITHOUT,
)
from support.sandbox_client import client_form, encode_multipart
from trusted_publish.cli import main
from trusted_publish_sandbox import Sandbox, archive

SPEC = "See https://packaging.python.org/specifications/core-metadata for more information."
ARCHIVES = "See https://docs.pypi.org/archives for more information"
MIB = 1024 * 1024


def _bad_requirement(text: str) -> str:
    try:
        Requirement(text)
    except InvalidRequirement as exc:
        return f"{text!r} is invalid: {exc}. {SPEC}"
    raise AssertionError(f"{text!r} parses")


def _zip(reason: str) -> str:
    return f"Invalid distribution file. ZIP archive not accepted: {reason}. {ARCHIVES}"


def _platform(tag: str) -> str:
    return (
        f"Binary wheel 'tp_plat-1.0.0-cp312-cp312-{tag}.whl' has an unsupported platform tag "
        f"'{tag}'."
    )


def _entry_points(filename: str) -> str:
    return f"Wheel '{filename}' has invalid entry points defined in the entry_points.txt file"


#: Rule (a key of CASES) -> the text PyPI answers with (warehouse/forklift/legacy.py
#: `file_upload`, every refusal a 400 with the text in the status line).
PYPI_SAYS = {
    "unknown-classifier": f"'Framework :: Nonesuch' is not a valid classifier. {SPEC}",
    "deprecated-classifier-with-replacement": (
        f"The classifier {DEPRECATED_WITH!r} has been deprecated, use one of "
        f"{deprecated_classifiers[DEPRECATED_WITH]} instead. {SPEC}"
    ),
    "deprecated-classifier": f"The classifier {DEPRECATED_WITHOUT!r} has been deprecated. {SPEC}",
    "author-email": (
        "'sam@localhost' is not a valid email address: The part after the @-sign is not "
        f"valid. It should have a period. {SPEC}"
    ),
    "maintainer-email": (
        "'m..x@example.org' is not a valid email address: An email address cannot have two "
        f"periods in a row. {SPEC}"
    ),
    "metadata-version-3.0": f"'3.0' is not a valid metadata version. {SPEC}",
    "home-page-not-http": f"'ftp://example.org/x' is not a valid url. {SPEC}",
    "download-url-not-a-url": f"'example.org/download' is not a valid url. {SPEC}",
    "project-url-label-too-long": (
        f"'Where the documentation lives nowadays' must be 32 characters or less. {SPEC}"
    ),
    "project-url-without-url": f"Must have a URL. {SPEC}",
    "project-url-not-http": f"'git+ssh://git@example.org/x.git' is not a valid url. {SPEC}",
    "provides-dist-invalid": _bad_requirement("tp prov !!"),
    "obsoletes-dist-url": (
        f"Can't have direct dependency: 'tp-old @ https://example.org/tp_old.whl'. {SPEC}"
    ),
    "requires-dist-url": (
        "Can't have direct dependency: "
        f"{Requirement('tp-lib @ https://example.org/tp_lib-1.0.tar.gz')}. {SPEC}"
    ),
    "license-and-license-expression": (
        "License is deprecated when License-Expression is present. Only License-Expression "
        f"should be present. {SPEC}"
    ),
    "macos-11-minor": _platform("macosx_11_3_arm64"),
    "manylinux-unknown-arch": _platform("manylinux_2_17_sparc64"),
    "musllinux-ppc64": _platform("musllinux_1_2_ppc64"),
    "bare-linux": _platform("linux_x86_64"),
    "emscripten": _platform("emscripten_3_1_58_wasm32"),
    "freebsd": _platform("freebsd_14_0_release_amd64"),
    "cygwin": _platform("cygwin_3_5_x86_64"),
    "windows-arm32": _platform("win_arm32"),
    "ios-unknown-arch": _platform("ios_13_0_armv7_iphoneos"),
    "android-unknown-arch": _platform("android_21_mips"),
    "zip-data-descriptor": _zip("ZIP contains a data descriptor"),
    "zip-member-comment": _zip("Comment in central directory"),
    "zip-unprintable-name": _zip("Invalid character in filename"),
    "zip-sizes-disagree": _zip("Mis-matched file size"),
    "zip-bytes-before": _zip("Unknown record signature"),
    "zip-bytes-after": _zip("Trailing data"),
    "zip-and-tar": "Invalid distribution file. File is both a zip and a tar file",
    "sdist-sparse-member": (
        "Invalid distribution file. tar archive not accepted: Sparse members are not allowed. "
        f"{ARCHIVES}"
    ),
    "markdown-renders-to-nothing": (
        "The description failed to render for 'text/markdown'. "
        "See https://pypi.org/help/#description-content-type for more information."
    ),
    "entry-points-not-ini": _entry_points("tp_ep-1.0.0-py3-none-any.whl"),
    "entry-point-name-with-slash": _entry_points("tp_eps-1.0.0-py3-none-any.whl"),
}


# --- helpers: the client's form, sent straight to the sandbox ------------------------------


@pytest.fixture
def sb() -> Iterator[Sandbox]:
    with Sandbox(users={"alice": "s3cret"}) as sandbox:
        yield sandbox


def session() -> requests.Session:
    sess = requests.Session()
    sess.trust_env = False  # loopback only: no proxy, no ~/.netrc
    return sess


def upload(sb: Sandbox, path: Path) -> requests.Response:
    return post(sb, *encode_multipart(client_form(path), path.name, path.read_bytes()))


def post(sb: Sandbox, body: bytes, content_type: str) -> requests.Response:
    return session().post(
        sb.repository_url,
        data=body,
        headers={"Content-Type": content_type},
        auth=("alice", "s3cret"),
        allow_redirects=False,
    )


def one_line(text: str) -> str:
    """Whitespace runs as one space (packaging's requirement errors span lines; the client's
    log shows a line break inside a problem escaped, as `\\n`)."""
    return " ".join(text.replace("\\n", "\n").split())


def the_file(folder: Path) -> Path:
    [path] = [p for p in folder.iterdir() if p.is_file()]
    return path


# --- the same verdict, in the same words ---------------------------------------------------


@pytest.mark.parametrize("rule", list(CASES))
def test_the_sandbox_refuses_what_the_client_refuses_in_pypis_words(
    sb: Sandbox, tmp_path: Path, capsys: pytest.CaptureFixture[str], rule: str
) -> None:
    CASES[rule].make(tmp_path)
    resp = upload(sb, the_file(tmp_path))
    assert (resp.status_code, resp.text) == (400, PYPI_SAYS[rule])
    assert resp.reason == one_line(PYPI_SAYS[rule])  # the status line: a line of its own
    assert [(a.status, a.message) for a in sb.upload_attempts] == [(400, PYPI_SAYS[rule])]
    assert sb.projects() == []
    # The client quotes the very same text.
    capsys.readouterr()
    assert main(["check", str(tmp_path)], env={}) == 3
    captured = capsys.readouterr()
    assert f'("{one_line(PYPI_SAYS[rule])}")' in one_line(captured.out + captured.err)


@pytest.mark.parametrize(
    "tag", ["pyemscripten_2024_0_wasm32", "macosx_11_0_arm64", "musllinux_1_2_riscv64"]
)
def test_the_sandbox_takes_the_platform_tags_pypi_takes(
    sb: Sandbox, tmp_path: Path, tag: str
) -> None:
    resp = upload(sb, make_wheel(tmp_path, "tp_plat", tag=f"cp312-cp312-{tag}"))
    assert resp.status_code == 200, resp.reason


def test_a_good_release_passes_every_rule(sb: Sandbox, tmp_path: Path) -> None:
    meta = metadata_text("tp-good", "1.0.0", extra_headers="License-File: LICENSE\n")
    for path in (
        make_wheel(tmp_path, "tp_good", metadata=meta),
        make_sdist(tmp_path, "tp_good", metadata=meta),
    ):
        resp = upload(sb, path)
        assert resp.status_code == 200, resp.reason
    assert len(sb.files("tp-good")) == 2


@pytest.mark.parametrize(
    ("description", "content_type", "said"),
    [
        ("   \n", "text/markdown", "The description failed to render for 'text/markdown'."),
        (
            "Title\n===\n\n.. nonesuch:: x\n",
            None,
            "The description failed to render in the default format of reStructuredText.",
        ),
        (
            "`broken <http://x\n",
            "text/x-rst; charset=UTF-8",
            "The description failed to render for 'text/x-rst; charset=UTF-8'.",
        ),
    ],
)
def test_a_readme_that_does_not_render_is_refused_as_pypi_does(
    sb: Sandbox, tmp_path: Path, description: str, content_type: str | None, said: str
) -> None:
    meta = metadata_text("tp-readme", body=description, content_type=content_type)
    resp = upload(sb, make_wheel(tmp_path, "tp_readme", metadata=meta))
    assert (resp.status_code, resp.text) == (
        400,
        f"{said} See https://pypi.org/help/#description-content-type for more information.",
    )


def test_mixed_with_good_files_nothing_reaches_the_index(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    folder = tmp_path / "dist"
    make_wheel(folder, "tp_good")
    make_sdist(folder, "tp_good")
    for rule in ("unknown-classifier", "bare-linux", "zip-data-descriptor", "entry-points-not-ini"):
        CASES[rule].make(folder)
    with Sandbox() as sb:
        # The client applies PyPI's rules to PyPI-like indexes: the sandbox is one.
        env = {
            "GITHUB_ACTIONS": "true",
            "TRUSTED_PUBLISH_REPOSITORY_URL": sb.repository_url,
            "TRUSTED_PUBLISH_PYPI_LIKE": "true",
            "TRUSTED_PUBLISH_PACKAGES_DIR": str(folder),
            **sb.env(),
        }
        capsys.readouterr()
        code = main([], env=env)
        captured = capsys.readouterr()
        assert code == 3, captured.out + captured.err
        for rule in ("unknown-classifier", "bare-linux", "zip-data-descriptor"):
            assert one_line(PYPI_SAYS[rule]) in one_line(captured.out + captured.err)
        assert sb.upload_attempts == []
        assert sb.mint_requests == []
        assert sb.issued_jwts == []


# --- speed: one pass over an archive, no lock while it is judged ---------------------------

LICENSES = 17


def numpy_like_sdist(folder: Path, name: str = "tp_big", inflated_mib: int = 12) -> Path:
    """An sdist shaped like numpy's: 17 License-File entries, many MiB inflated."""
    licenses = [f"LICENSES/LICENSE-{i}.txt" for i in range(LICENSES)]
    headers = "".join(f"License-File: {lic}\n" for lic in licenses)
    meta = metadata_text(name.replace("_", "-"), extra_headers=headers)
    root = f"{name}-1.0.0"
    noise = random.Random(0).randbytes(3 * MIB)  # noqa: S311 - filler gzip cannot shrink
    members = {f"{root}/{lic}": b"Some license text\n" * 50 for lic in licenses}
    members[f"{root}/noise.bin"] = noise
    members[f"{root}/zeros.bin"] = bytes(inflated_mib * MIB)
    return make_sdist(folder, name, metadata=meta, extra_members=members)


def test_an_sdist_with_17_license_files_is_judged_in_one_pass(sb: Sandbox, tmp_path: Path) -> None:
    big = numpy_like_sdist(tmp_path)
    assert big.stat().st_size > 2 * MIB
    body, content_type = encode_multipart(client_form(big), big.name, big.read_bytes())
    started = time.monotonic()
    resp = post(sb, body, content_type)
    took = time.monotonic() - started
    assert resp.status_code == 200, resp.reason
    assert took < 1.0, f"the upload took {took:.2f} s"


def test_a_small_upload_is_not_held_up_by_a_big_one_being_checked(
    sb: Sandbox, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    big = numpy_like_sdist(tmp_path / "big")
    small = make_wheel(tmp_path / "small", "tp_small")
    checking = threading.Event()
    real_read_tar = archive.read_tar

    def slow_read_tar(path: Path) -> archive.TarListing:
        # Stands for an sdist that takes seconds to inflate: the window the small one meets.
        checking.set()
        time.sleep(3.0)
        return real_read_tar(path)

    monkeypatch.setattr(archive, "read_tar", slow_read_tar)
    answers: dict[str, tuple[int, float]] = {}

    def send(path: Path) -> None:
        started = time.monotonic()
        resp = upload(sb, path)
        answers[path.name] = (resp.status_code, time.monotonic() - started)

    big_upload = threading.Thread(target=send, args=(big,))
    big_upload.start()
    assert checking.wait(30)
    send(small)
    big_upload.join(60)
    assert answers[small.name][0] == 200
    assert answers[small.name][1] < 2.0, answers
    assert answers[big.name][0] == 200
    assert answers[big.name][1] >= 3.0
