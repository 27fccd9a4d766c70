"""Each index answer kind has one reader (issue #18): PyPI's JSON API, the PEP 691 and PEP
503 listings, the upload answer. Whatever an answer holds, the reader gives the typed value
or a `ProtocolError`, never another exception. Fuzzed with hypothesis
(`HYPOTHESIS_PROFILE=fuzz` for thousands of examples)."""

from __future__ import annotations

import re

import pytest
from hypothesis import given
from hypothesis import strategies as st

from support.answers import bodies, replies
from trusted_publish.http.answers import ProtocolError
from trusted_publish.http.transport import Reply
from trusted_publish.index.listing import read_json_api, read_simple_html, read_simple_json
from trusted_publish.index.upload import server_message

#: Property tests of a boundary: a few dozen examples in `make test`, thousands in `make fuzz`.
pytestmark = pytest.mark.fuzz

HEX64 = re.compile(r"[0-9a-f]{64}")
FILE_KEYS = ["urls", "files", "filename", "digests", "hashes", "sha256", "upload_time_iso_8601"]


def _sound(listing: dict[str, object]) -> None:
    for name, digest in listing.items():
        assert isinstance(name, str)
        assert digest is None or (isinstance(digest, str) and HEX64.fullmatch(digest))


@given(bodies(FILE_KEYS))
def test_fuzz_json_api(body: bytes) -> None:
    try:
        release = read_json_api(body)
    except ProtocolError as exc:
        assert exc.reason.startswith("answered ")
        return
    _sound(release.files)
    assert release.first_upload is None or release.first_upload.tzinfo is not None


@given(bodies(FILE_KEYS))
def test_fuzz_simple_json(body: bytes) -> None:
    try:
        listing = read_simple_json(body)
    except ProtocolError as exc:
        assert exc.reason.startswith("answered ")
        return
    _sound(listing)


html = st.lists(
    st.sampled_from(
        [
            '<a href="',
            "/f/x.whl",
            "#sha256=",
            "0" * 64,
            '">',
            "</a>",
            "<!",
            "<![",
            "<?",
            "&#",
            "&",
            "<",
            ">",
            "'",
            '"',
            "\x00",
            "<script>",
            "</",
        ]
    )
    | st.text(max_size=10),
    max_size=30,
).map("".join)


@given(html)
def test_fuzz_simple_html(text: str) -> None:
    try:
        listing = read_simple_html(text)
    except ProtocolError:
        return
    _sound(listing)


@given(replies(keys=["message"], statuses=[200, 400, 403, 409, 500]))
def test_fuzz_upload_answer(reply: Reply) -> None:
    message = server_message(reply)
    assert isinstance(message, str)
