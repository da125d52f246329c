"""The example project's test configuration: makes ``games`` importable for the scenarios."""

from __future__ import annotations

import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).parent))
