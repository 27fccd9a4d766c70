"""Reading what a server answered, at one boundary: numbers in headers, JSON bodies, JSON
shapes, each into a typed value or one named outcome, `ProtocolError`, with the reason.

A server's answer is untrusted input: whatever it holds (a `Content-Length` of `²`, JSON
nested a hundred thousand deep, a number with ten thousand digits, bytes that are not UTF-8)
must end here as a value of the type the caller asked for or as a `ProtocolError`, never as
some other exception raised later by the code that uses it. Each kind of answer (audience,
mint-token, upload, listing...) has its own reader in its stage's module; they are built from
these functions.
"""

from __future__ import annotations

import email.utils
import json
import time
from collections.abc import Mapping
from typing import TYPE_CHECKING, Any, Optional, TypeVar

from trusted_publish.errors import PublishError

# Re-exported: the readers of each kind of answer raise it, their callers catch it from here.
from trusted_publish.http.failures import ProtocolError as ProtocolError  # noqa: PLC0414

if TYPE_CHECKING:
    from pydantic import BaseModel

    M = TypeVar("M", bound=BaseModel)

#: Digits a header's number may have: 2**63 has 19. Anything longer is no size or delay any
#: HTTP implementation means, and `int()` of a long string costs time quadratic in its length.
MAX_HEADER_DIGITS = 19
#: Retry-After is honoured up to a day; a longer wait is "later than we will wait" and is
#: said as a day (a `RetryPolicy` gives up on it all the same).
RETRY_AFTER_MAX = 86_400.0
#: How much of a server's text a reason quotes (a reason is one line of a message).
_QUOTE = 60

_ASCII_DIGITS = frozenset("0123456789")
#: The white space HTTP allows around a field value (RFC 9110, 5.5): not `str.strip()`'s,
#: which also takes Unicode spaces no HTTP parser does.
_OWS = " \t"


def header_number(value: str, *, header: str, what: str, maximum: int) -> int:
    """A header's value as a whole number: ASCII digits only (`²`, `٣` and every other
    character `str.isdigit` accepts are refused), at most `maximum`. `ProtocolError` names
    the header and the request when it is not one."""
    text = value.strip(_OWS)
    if not text or len(text) > MAX_HEADER_DIGITS or not set(text) <= _ASCII_DIGITS:
        raise ProtocolError(f"the answer to {what} has an invalid {header} header")
    number = int(text)
    if number > maximum:
        raise ProtocolError(f"the answer to {what} has a {header} over {maximum}")
    return number


def content_length(headers: Mapping[str, str], *, what: str) -> Optional[int]:
    """The answer's declared length (None when it declares none). Several values are one
    only when they are the same (RFC 9110, 8.6); anything else is a `ProtocolError`: a
    message whose length can't be told has no framing to trust (RFC 9112, 6.3)."""
    value = headers.get("Content-Length")
    if value is None:
        return None
    lengths = {
        header_number(part, header="Content-Length", what=what, maximum=2**63 - 1)
        for part in value.split(",")
    }
    if len(lengths) != 1:
        raise ProtocolError(f"the answer to {what} has conflicting Content-Length values")
    return lengths.pop()


def retry_after(value: Optional[str], *, now: Optional[float] = None) -> Optional[float]:
    """Retry-After as seconds to wait (0 to `RETRY_AFTER_MAX`): either a number of seconds
    in ASCII digits or an HTTP date. None when absent or unusable: the header is advice,
    and without it our own back-off applies."""
    if value is None:
        return None
    text = value.strip(_OWS)
    if not text:
        return None
    if set(text) <= _ASCII_DIGITS:
        # Digits, however many: a wait longer than we would ever wait.
        if len(text) > MAX_HEADER_DIGITS:
            return RETRY_AFTER_MAX
        return min(float(int(text)), RETRY_AFTER_MAX)
    try:
        when = email.utils.parsedate_to_datetime(text).timestamp()
    except PublishError:
        raise  # a signal's `Interrupted`, raised while reading: the run's, not the answer's
    except Exception:  # noqa: BLE001 - any date the parser can't read is no advice
        return None
    left = when - (time.time() if now is None else now)
    return min(max(0.0, left), RETRY_AFTER_MAX)


def decode_json(body: bytes | str, *, what: str) -> Any:
    """The body as JSON (RFC 8259: no NaN or Infinity), or `ProtocolError`.

    Whatever the parser raises (ValueError, UnicodeDecodeError, RecursionError for deep
    nesting, the limit on an integer's digits, MemoryError) becomes the one outcome.
    """
    try:
        return json.loads(body, parse_constant=_no_constant)
    except PublishError:
        raise  # a signal's `Interrupted`, raised while reading: the run's, not the answer's
    except Exception:  # noqa: BLE001 - every way a body can fail to be JSON is one outcome
        raise ProtocolError(f"the answer to {what} is not JSON") from None


def json_object(body: bytes | str, *, what: str) -> dict[str, Any]:
    """The body as a JSON object, or `ProtocolError`."""
    data = decode_json(body, what=what)
    if not isinstance(data, dict):
        raise ProtocolError(f"the answer to {what} is JSON but not an object")
    return data


def parse_model(model: type[M], data: object, *, what: str) -> M:
    """`data` (decoded JSON) as `model`, or `ProtocolError` saying which fields are wrong.

    The reason names fields and what they should be, never their values: a value may be a
    secret (a token in the wrong place) or anything a server chose to send.
    """
    try:
        return model.model_validate(data)
    except PublishError:
        raise  # a signal's `Interrupted`, raised while reading: the run's, not the answer's
    except Exception as exc:  # noqa: BLE001 - a ValidationError, or whatever a validator raised
        raise ProtocolError(f"the answer to {what} is not as expected ({_fields(exc)})") from None


def read_json(body: bytes | str, model: type[M], *, what: str) -> M:
    """The body as JSON of the shape `model` describes, or `ProtocolError`."""
    return parse_model(model, decode_json(body, what=what), what=what)


def _no_constant(name: str) -> Any:
    raise ValueError(f"{name} is not JSON")


def _fields(exc: Exception) -> str:
    """Which fields a validation error is about, in a few words."""
    from pydantic import ValidationError

    if not isinstance(exc, ValidationError):
        return "its shape"
    try:
        problems = exc.errors(include_url=False, include_input=False, include_context=False)
    except Exception:  # noqa: BLE001 - the reason must never fail
        return "its shape"
    said: list[str] = []
    for problem in problems[:3]:
        where = ".".join(str(part) for part in problem.get("loc", ()))[:_QUOTE] or "the body"
        said.append(f"{where}: {problem.get('msg', 'invalid')}"[: _QUOTE * 2])
    more = len(problems) - len(said)
    return "; ".join(said) + (f"; {more} more" if more > 0 else "")
