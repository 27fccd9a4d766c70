"""Talking to the sandbox as a client would: a session, an upload form, a token, mint-token."""

from __future__ import annotations

import hashlib
import io
import os
import secrets
import shlex
import subprocess
import tarfile
import time
import zipfile
from collections.abc import Sequence
from pathlib import Path
from typing import Optional

import requests
from packaging.metadata import parse_email

from trusted_publish.dists.discover import Distribution
from trusted_publish.index.upload import form_fields
from trusted_publish_sandbox import Sandbox


def session() -> requests.Session:
    """A session that ignores proxy variables and ~/.netrc (loopback only)."""
    sess = requests.Session()
    sess.trust_env = False
    return sess


def child_env() -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith(("PIP_", "TWINE_"))}
    env["NO_PROXY"] = env["no_proxy"] = "127.0.0.1,localhost"
    env["PYTHON_KEYRING_BACKEND"] = "keyring.backends.null.Keyring"
    env["PIP_DISABLE_PIP_VERSION_CHECK"] = "1"
    return env


#: What the sandbox's command line exports, in order (SSL_CERT_FILE... follow with --tls).
SANDBOX_VARIABLES = [
    "ACTIONS_ID_TOKEN_REQUEST_URL",
    "ACTIONS_ID_TOKEN_REQUEST_TOKEN",
    "TRUSTED_PUBLISH_REPOSITORY_URL",
    "TRUSTED_PUBLISH_PYPI_LIKE",
    "GITLAB_ID_TOKEN_URL",
    "GCE_METADATA_HOST",
]


def start_cli(
    command: list[str], *extra: str
) -> tuple[subprocess.Popen[str], dict[str, str], str, list[str]]:
    """Start the sandbox's command line; return it, the variables it exports, its base URL
    and every line it printed up to `# sandbox ready on URL`."""
    proc = subprocess.Popen(
        [*command, "--port", "0", *extra],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
        env=child_env(),
    )
    assert proc.stdout is not None
    lines: list[str] = []
    deadline = time.monotonic() + 30
    while time.monotonic() < deadline:
        line = proc.stdout.readline()
        if not line:
            break
        lines.append(line.rstrip("\n"))
        if "sandbox ready on " in line:  # the last line, whatever its form: never wait past it
            break
    exports = [line.removeprefix("export ") for line in lines if line.startswith("export ")]
    values = dict(shlex.split(line)[0].split("=", 1) for line in exports)
    assert list(values) == SANDBOX_VARIABLES, lines
    return proc, values, lines[-1].removeprefix("# sandbox ready on "), lines


def upload_fields(
    path: Path,
    name: str = "demo",
    version: str = "1.0.0",
    *,
    data: Optional[bytes] = None,
    **overrides: Optional[str],
) -> list[tuple[str, str]]:
    """The form twine would send for ``path``; an override of None drops the field."""
    content = path.read_bytes() if data is None else data
    sdist = path.name.endswith((".tar.gz", ".zip"))
    fields = [
        (":action", "file_upload"),
        ("protocol_version", "1"),
        ("name", name),
        ("version", version),
        ("filetype", "sdist" if sdist else "bdist_wheel"),
        ("pyversion", "source" if sdist else "py3"),
        ("metadata_version", "2.1"),
        ("summary", "A demo package"),
        ("requires_python", ">=3.8"),
        ("classifiers", "Programming Language :: Python :: 3"),
        ("classifiers", "Operating System :: OS Independent"),
        ("project_urls", "Source, https://github.com/octo-org/demo"),
        ("sha256_digest", hashlib.sha256(content).hexdigest()),
        ("blake2_256_digest", hashlib.blake2b(content, digest_size=32).hexdigest()),
    ]
    result: list[tuple[str, str]] = []
    for key, value in fields:
        chosen = overrides.get(key, value)
        if chosen is not None:
            result.append((key, chosen))
    keys = {k for k, _ in fields}
    result += [(k, v) for k, v in overrides.items() if k not in keys and v is not None]
    return result


def client_form(path: Path) -> list[tuple[str, str]]:
    """The form the client sends for ``path``, built without any of its checks."""
    data = path.read_bytes()
    if path.name.endswith(".whl"):
        with zipfile.ZipFile(io.BytesIO(data)) as zf:
            name = next(n for n in zf.namelist() if n.endswith(".dist-info/METADATA"))
            metadata = zf.read(name)
        filetype, pyversion = "bdist_wheel", path.name.split("-")[-3]
    else:
        with tarfile.open(path, "r:gz") as tf:
            handle = tf.extractfile(f"{path.name[: -len('.tar.gz')]}/PKG-INFO")
            assert handle is not None
            metadata = handle.read()
        filetype, pyversion = "sdist", "source"
    raw, _unparsed = parse_email(metadata)
    dist = Distribution(
        path=path,
        filetype=filetype,  # type: ignore[arg-type]
        pyversion=pyversion,
        metadata=raw,
        size=len(data),
        sha256=hashlib.sha256(data).hexdigest(),
        blake2_256=hashlib.blake2b(data, digest_size=32).hexdigest(),
    )
    return form_fields(dist)


def encode_multipart(
    fields: Sequence[tuple[str, str]], filename: str, content: bytes
) -> tuple[bytes, str]:
    """A hand-built multipart/form-data body (what twine's encoder produces)."""
    boundary = "sandbox-" + secrets.token_hex(12)
    out = io.BytesIO()
    for key, value in fields:
        out.write(f'--{boundary}\r\nContent-Disposition: form-data; name="{key}"\r\n\r\n'.encode())
        out.write(value.encode() + b"\r\n")
    out.write(
        f'--{boundary}\r\nContent-Disposition: form-data; name="content"; '
        f'filename="{filename}"\r\nContent-Type: application/octet-stream\r\n\r\n'.encode()
    )
    out.write(content + b"\r\n")
    out.write(f"--{boundary}--\r\n".encode())
    return out.getvalue(), f"multipart/form-data; boundary={boundary}"


def upload(
    sb: Sandbox,
    path: Path,
    auth: tuple[str, str] = ("alice", "s3cret"),
    *,
    name: str = "demo",
    version: str = "1.0.0",
    filename: Optional[str] = None,
    data: Optional[bytes] = None,
    headers: Optional[dict[str, str]] = None,
    url: Optional[str] = None,
    fields: Optional[dict[str, Optional[str]]] = None,
    **overrides: Optional[str],
) -> requests.Response:
    """POST ``path`` like twine would; ``fields``/``overrides`` change the form."""
    content = path.read_bytes() if data is None else data
    form = upload_fields(path, name, version, data=content, **{**overrides, **(fields or {})})
    body, content_type = encode_multipart(form, filename or path.name, content)
    return session().post(
        url or sb.repository_url,
        data=body,
        headers={"Content-Type": content_type, **(headers or {})},
        auth=auth,
        allow_redirects=False,
    )


def id_token(sb: Sandbox, audience: Optional[str] = "pypi") -> str:
    url = sb.oidc_request_url + (f"&audience={audience}" if audience else "")
    resp = session().get(url, headers={"Authorization": f"bearer {sb.oidc_request_token}"})
    assert resp.status_code == 200, resp.text
    return str(resp.json()["value"])


def mint(sb: Sandbox, token: Optional[str] = None) -> requests.Response:
    return session().post(f"{sb.base_url}/_/oidc/mint-token", json={"token": token or id_token(sb)})


def mint_error(resp: requests.Response) -> tuple[str, str]:
    assert resp.status_code == 422, resp.text
    body = resp.json()
    assert body["message"] == "Token request failed"
    error = body["errors"][0]
    return str(error["code"]), str(error["description"])


def api_token(sb: Sandbox) -> tuple[str, str]:
    resp = mint(sb)
    assert resp.status_code == 200, resp.text
    return "__token__", str(resp.json()["token"])
