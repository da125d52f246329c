"""Loading the package's versioned JSON files (baselines, replay bundles, checkpoints, caches).

Each such file is a JSON object with an integer ``schema_version``. :func:`load_versioned` reads one
and refuses, with a message that names the file and the fix, a file that is missing, not JSON, not
an object, of another kind, or of a version this package cannot read.
"""

from __future__ import annotations

import json
import os
from collections.abc import Callable
from pathlib import Path
from typing import Any

__all__ = ["load_versioned"]


def load_versioned(
    path: str | os.PathLike[str],
    *,
    kind: str,
    current: int,
    error: Callable[[str], Exception],
    fix: str,
    readable: tuple[int, ...] | None = None,
) -> dict[str, Any]:
    """Read the versioned JSON file ``path`` of ``kind`` (e.g. ``"baseline"``).

    Args:
        path: the file.
        kind: what the file is, for messages.
        current: the version this package writes.
        error: builds the exception to raise from a message (e.g. ``BaselineError``).
        fix: how to regenerate the file, appended to every message.
        readable: versions this package can still read (default: only ``current``).

    Returns:
        The parsed object.
    """
    file = Path(path)
    try:
        text = file.read_text(encoding="utf-8")
    except FileNotFoundError:
        raise error(f"{kind} {file} does not exist; {fix}") from None
    except OSError as exc:
        raise error(f"{kind} {file} cannot be read ({exc}); {fix}") from None
    try:
        data = json.loads(text)
    except ValueError as exc:
        raise error(f"{kind} {file} is not valid JSON ({exc}); {fix}") from None
    if not isinstance(data, dict) or "schema_version" not in data:
        raise error(f"{file} is not a pytest-rlplaytest {kind} (no schema_version); {fix}")
    version = data["schema_version"]
    if isinstance(version, bool) or not isinstance(version, int) or version < 1:
        raise error(f"{kind} {file} has an invalid schema_version {version!r}; {fix}")
    allowed = readable or (current,)
    if version not in allowed:
        if version > current:
            raise error(f"{kind} {file} uses schema version {version}, newer than this pytest-rlplaytest reads "
                        f"({current}); upgrade pytest-rlplaytest, or {fix}")
        raise error(f"{kind} {file} uses schema version {version}, older than the version {current} this "
                    f"pytest-rlplaytest reads; {fix}")
    return data
