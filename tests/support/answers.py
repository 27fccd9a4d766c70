"""Hypothesis strategies for servers' answers: any status, reason, headers and body, with
bodies that are often JSON (of the shapes the readers look for, with values of every type),
deeply nested, or not text at all. Used to fuzz each answer kind's reader."""

from __future__ import annotations

import json
from collections.abc import Sequence

from hypothesis import strategies as st

from trusted_publish.http.transport import Reply

#: Any JSON value, small.
json_values = st.recursive(
    st.none()
    | st.booleans()
    | st.integers()
    | st.integers(min_value=10**300, max_value=10**320)
    | st.floats(allow_nan=False)
    | st.text(max_size=20),
    lambda inner: (
        st.lists(inner, max_size=4) | st.dictionaries(st.text(max_size=8), inner, max_size=4)
    ),
    max_leaves=12,
)

content_types = st.sampled_from(
    [
        "application/json",
        "application/vnd.pypi.simple.v1+json",
        "text/html",
        "text/html; charset=idna",
        "text/plain; charset=latin-1",
        "text/plain; charset=no-such-codec",
        "",
    ]
)


def json_bodies(keys: Sequence[str]) -> st.SearchStrategy[bytes]:
    """JSON objects with some of `keys` (each any JSON value), lists of them, and others."""
    names = st.sampled_from(list(keys)) | st.text(max_size=8) if keys else st.text(max_size=8)
    objects = st.dictionaries(names, json_values, max_size=5)
    nested = st.dictionaries(names, st.lists(objects, max_size=3) | objects, max_size=3)
    return (objects | nested | json_values).map(lambda v: json.dumps(v).encode())


def bodies(keys: Sequence[str] = ()) -> st.SearchStrategy[bytes]:
    """Any body: bytes, text, JSON with `keys`, nesting deeper than a parser's limit."""
    deep = st.integers(min_value=1, max_value=100_000).map(lambda n: b'{"a":[' * n)
    return st.one_of(
        st.binary(max_size=300), st.text(max_size=100).map(str.encode), json_bodies(keys), deep
    )


@st.composite
def replies(draw: st.DrawFn, keys: Sequence[str] = (), statuses: Sequence[int] = (200,)) -> Reply:
    """Any answer: a status (often one of `statuses`), a reason, headers, a body."""
    status = draw(st.sampled_from(list(statuses)) | st.integers(min_value=100, max_value=599))
    headers = {"Content-Type": draw(content_types)}
    headers.update(
        draw(
            st.dictionaries(
                st.sampled_from(["Content-Type", "Retry-After", "X"]),
                st.text(max_size=20),
                max_size=2,
            )
        )
    )
    return Reply(status, draw(st.text(max_size=30)), headers, draw(bodies(keys)))
