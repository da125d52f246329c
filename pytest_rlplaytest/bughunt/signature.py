"""A bug's signature: how the plugin recognises that the bug happened in a step."""

from __future__ import annotations

import re
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from ..errors import RLPlaytestError
from ..telemetry import EVENTS_KEY, normalize_events


class SignatureError(RLPlaytestError, ValueError):
    """A marker's ``bug=`` is not a bug signature; the message (a clause after ``bug``) says why."""


@dataclass(frozen=True)
class BugSignature:
    """One of: an ``info`` event name (``"out_of_world"``), a predicate over a step's ``info``, or a
    regular expression matched against the engine's new log lines (``"log:SCRIPT ERROR.*chunk"``).

    Build one with :meth:`parse` from a marker's ``bug=`` argument.
    """

    event: str | None = None
    predicate: Callable[[Mapping[str, Any]], Any] | None = None
    log_pattern: re.Pattern[str] | None = None

    @classmethod
    def parse(cls, value: Any) -> BugSignature:
        """``"event"``, ``"log:<regex>"``, a compiled regex (log), or a callable(info) -> bool."""
        if isinstance(value, BugSignature):
            return value
        if isinstance(value, re.Pattern):
            return cls(log_pattern=value)
        if isinstance(value, str):
            if value.startswith("log:"):
                try:
                    return cls(log_pattern=re.compile(value[4:]))
                except re.error as exc:
                    raise SignatureError(f"is not a valid regular expression after 'log:': {exc}") from None
            if not value:
                raise SignatureError("names no event (it is empty)")
            return cls(event=value)
        if callable(value):
            return cls(predicate=value)
        raise SignatureError("must be an info event name, 'log:<regex>', or a callable(info) -> bool")

    @property
    def uses_log(self) -> bool:
        """Whether the signature reads the engine's log (a ``log:`` pattern)."""
        return self.log_pattern is not None

    def hit(self, info: Mapping[str, Any], log_lines: Sequence[str] = ()) -> bool:
        """Whether this step's ``info`` (or the log lines the engine printed during it) shows the bug."""
        if self.event is not None:
            return self.event in normalize_events(info.get(EVENTS_KEY))
        if self.predicate is not None:
            return bool(self.predicate(info))
        assert self.log_pattern is not None
        return any(self.log_pattern.search(line) for line in log_lines)

    def describe(self) -> str:
        """A readable, JSON-friendly description."""
        if self.event is not None:
            return f"event:{self.event}"
        if self.log_pattern is not None:
            return f"log:{self.log_pattern.pattern}"
        return f"predicate:{getattr(self.predicate, '__qualname__', repr(self.predicate))}"
