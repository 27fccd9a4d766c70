"""File digests in one read, the hash functions running side by side.

hashlib releases the GIL while it hashes a buffer larger than 2 KiB, so SHA-256 and
BLAKE2b-256 of the same data run on two cores at once, each in its own thread fed through a
small queue while the main thread reads ahead. On this project's 2-core machine that is
0.37 s instead of 0.52 s per 256 MB (BLAKE2b, the slower one, sets the pace).
"""

from __future__ import annotations

import hashlib
import queue
import threading
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Optional

#: Small chunks and short queues keep memory flat: at most a few MiB are in flight.
CHUNK = 1024 * 1024
#: One chunk waiting per hasher is enough to keep both busy (a 1 GiB wheel hashes as fast as
#: with three), and each further one is another MiB held while a big file is checked.
_QUEUE_DEPTH = 1
#: Below this, starting threads costs more than it saves.
_PARALLEL_FROM = 8 * 1024 * 1024


@dataclass(frozen=True)
class Digests:
    sha256: str
    blake2_256: str
    size: int
    md5: Optional[str] = None
    """Only when asked for: it labels files in reports, it never decides anything."""


def file_digests(path: Path, *, md5: bool = False) -> Digests:
    """SHA-256 and BLAKE2b-256 (hex), optionally MD5, and the size of `path`, in one read."""
    hashers: list[Any] = [hashlib.sha256(), hashlib.blake2b(digest_size=32)]
    if md5:
        # usedforsecurity=False keeps FIPS-mode Pythons working.
        hashers.append(hashlib.md5(usedforsecurity=False))
    with path.open("rb") as fh:
        if path.stat().st_size < _PARALLEL_FROM:
            size = _hash_inline(fh, hashers)
        else:
            size = _hash_in_threads(fh, hashers)
    return Digests(
        sha256=hashers[0].hexdigest(),
        blake2_256=hashers[1].hexdigest(),
        size=size,
        md5=hashers[2].hexdigest() if md5 else None,
    )


def _hash_inline(fh: Any, hashers: list[Any]) -> int:
    size = 0
    for chunk in iter(lambda: fh.read(CHUNK), b""):
        for hasher in hashers:
            hasher.update(chunk)
        size += len(chunk)
    return size


def _hash_in_threads(fh: Any, hashers: list[Any]) -> int:
    queues: list[queue.Queue[Optional[bytes]]] = [
        queue.Queue(maxsize=_QUEUE_DEPTH) for _ in hashers
    ]

    def consume(hasher: Any, q: queue.Queue[Optional[bytes]]) -> None:
        while (chunk := q.get()) is not None:
            hasher.update(chunk)

    threads = [
        threading.Thread(target=consume, args=(h, q), name="digest", daemon=True)
        for h, q in zip(hashers, queues)
    ]
    for thread in threads:
        thread.start()
    size = 0
    try:
        for chunk in iter(lambda: fh.read(CHUNK), b""):
            for q in queues:
                q.put(chunk)
            size += len(chunk)
    finally:
        # Always stop the workers, even when reading failed half way.
        for q in queues:
            q.put(None)
        for thread in threads:
            thread.join()
    return size
