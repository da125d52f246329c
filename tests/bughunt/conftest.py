"""Bug-hunt tests use the Ledge game (tests/bughunt/ledge.py), importable as ``ledge``."""

from __future__ import annotations

import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).parent))
