"""The Godot RL Agents wire protocol, spoken defensively.

Framing: a u32 little-endian byte length, then ASCII JSON. Python listens on 127.0.0.1 (an OS-assigned
port, bound *before* the game is launched); the game connects as a client.

Every receive has a deadline (the ``engine_timeout`` setting, 30 s by default) and watches the game
process in short slices, so if the game dies the pending call fails within about a second with
:class:`GodotCrashed` (naming the exit code or the signal, e.g. SIGKILL, and showing the game's last
output lines) instead of waiting forever. A silent game fails with :class:`GodotTimeout`.

Speed: the socket is a *blocking* socket whose kernel timeouts (``SO_RCVTIMEO``/``SO_SNDTIMEO``) are
the watch slice, so a step costs one ``send`` and usually one ``recv_into`` system call (Python's
own socket timeouts add a ``poll`` before every call); the game process is only looked at when a
call times out. A receive may first poll the socket for a short, bounded time (``--rl-recv-spin-us``,
:func:`spin_plan`: off when the machine is oversubscribed), which saves the wake-up from a
blocking read when the reply comes quickly; our addon can do the same on the game's side (its
``recv_spin`` message), where the wait for the learner's next action is longer. Messages are read into one reusable buffer; JSON is encoded and decoded by
encoder/decoder objects built once.

Numbers: we send with ``allow_nan=False``. Godot prints NaN/inf as bare ``nan``/``inf`` tokens, which
are not JSON; they are rejected with the exact place they occurred (e.g. ``obs[3]["obs"][5]``).
"""

from __future__ import annotations

import dataclasses
import json
import os
import re
import socket
import struct
import sys
import time
from collections.abc import Callable
from typing import Any

from ..base import EngineError

#: protocol version sent in the handshake (what godot-rl 0.8 speaks)
MAJOR_VERSION = "0"
MINOR_VERSION = "7"
#: how often a waiting receive checks whether the game process is still alive
POLL_SLICE_S = 0.2
#: largest message accepted (a sanity bound against garbage lengths)
MAX_MESSAGE_BYTES = 512 * 1024 * 1024
#: ``--rl-recv-spin-us auto``: the driver spins this long for a reply before blocking (the game's
#: step takes tens of microseconds) when the machine has a core for every spinning process
RECV_SPIN_AUTO_US = 100
#: ``--rl-recv-spin-us auto``: our addon spins this long for the next action before blocking (the
#: learner's forward pass and bookkeeping between two steps take some hundreds of microseconds)
GAME_SPIN_AUTO_US = 1000
_DONTWAIT = getattr(socket, "MSG_DONTWAIT", 0)


class GodotCrashed(EngineError):
    """The game process exited or closed the connection while the driver needed it."""


class GodotTimeout(EngineError):
    """The game stayed silent longer than the engine timeout."""


class ProtocolError(EngineError):
    """The game sent something that breaks the wire protocol (bad JSON, NaN, wrong reply type, ...)."""


class GodotScriptError(EngineError):
    """The game printed ``SCRIPT ERROR`` (a GDScript runtime error)."""


_NONFINITE_TOKEN = re.compile(r'(?<![\w."])(-?(?:nan|inf|NaN|Infinity|-Infinity|infinity))(?![\w"])')
_SENTINEL = "\x00rlplaytest-nonfinite:"


class _NonFinite(ValueError):
    pass


def _reject_constant(token: str) -> Any:
    raise _NonFinite(token)


def _find_sentinels(value: Any, path: str, found: list[str]) -> None:
    if isinstance(value, str):
        if value.startswith(_SENTINEL):
            found.append(f"{path} = {value[len(_SENTINEL):]}")
    elif isinstance(value, dict):
        for key, sub in value.items():
            _find_sentinels(sub, f"{path}[{key!r}]", found)
    elif isinstance(value, list):
        for i, sub in enumerate(value):
            _find_sentinels(sub, f"{path}[{i}]", found)


_DECODER = json.JSONDecoder(parse_constant=_reject_constant)
_ENCODER = json.JSONEncoder(allow_nan=False, separators=(",", ":"))
try:  # the C encoder, built once (json.dumps builds one per call)
    from json.encoder import c_make_encoder as _c_make_encoder  # type: ignore[attr-defined]
    from json.encoder import encode_basestring_ascii as _encode_ascii

    _C_ENCODE = _c_make_encoder(None, None, _encode_ascii, None, ":", ",", False, False, False)
except (ImportError, TypeError):  # pragma: no cover - no C accelerator
    _C_ENCODE = None


def encode_json(value: Any) -> str:
    """Compact ASCII JSON text of plain lists/dicts/numbers/strings; raises ValueError on NaN/inf."""
    if _C_ENCODE is None:  # pragma: no cover
        return _ENCODER.encode(value)
    return "".join(_C_ENCODE(value, 0))


def parse_message(data: bytes | bytearray | memoryview, what: Any) -> dict[str, Any]:
    """Decode one message body into a dict (``what`` names it in errors; anything printable).

    Raises:
        ProtocolError: not UTF-8, not JSON, not an object, or holding NaN/inf (with its location).
    """
    try:
        text = str(data, "utf-8")
    except UnicodeDecodeError as exc:
        raise ProtocolError(f"{what}: the game sent bytes that are not UTF-8 text ({exc})") from None
    try:
        if text[:1].isspace():
            text = text.lstrip()
        value, end = _DECODER.raw_decode(text)
        if end != len(text) and text[end:].strip():
            raise json.JSONDecodeError("Extra data", text, end)
    except (json.JSONDecodeError, _NonFinite) as exc:
        substituted = _NONFINITE_TOKEN.sub(lambda m: json.dumps(_SENTINEL + m.group(1)), text)
        found: list[str] = []
        try:
            _find_sentinels(json.loads(substituted, parse_constant=lambda t: _SENTINEL + t), "", found)
        except json.JSONDecodeError:
            pass
        if found:
            shown = ", ".join(f"message{p}" for p in found[:5])
            more = f" (and {len(found) - 5} more)" if len(found) > 5 else ""
            raise ProtocolError(
                f"{what}: the game sent a non-finite number: {shown}{more}. Godot writes NaN/inf as bare "
                "nan/inf, which is not JSON; fix the game so it sends finite numbers "
                "(check for division by zero or an uninitialised value)."
            ) from None
        if isinstance(exc, json.JSONDecodeError):
            lo = max(0, exc.pos - 40)
            raise ProtocolError(
                f"{what}: the game sent invalid JSON ({exc.msg} at character {exc.pos}: "
                f"...{text[lo:exc.pos + 40]!r}...)"
            ) from None
        raise ProtocolError(f"{what}: the game sent a non-finite number ({exc})") from None
    if type(value) is not dict:
        raise ProtocolError(f"{what}: the game sent a JSON {type(value).__name__}, not an object")
    return value


def encode_message(message: dict[str, Any]) -> bytes:
    """Frame ``message``: u32 LE length + ASCII JSON.

    Raises:
        EngineError: the message holds NaN/inf (e.g. a policy produced NaN actions).
    """
    try:
        body = _ENCODER.encode(message).encode("ascii")
    except ValueError as exc:
        raise EngineError(
            f"refusing to send a {message.get('type')!r} message holding NaN/inf ({exc}); the policy or the "
            "test produced non-finite actions"
        ) from None
    return struct.pack("<I", len(body)) + body


class Listener:
    """A TCP server socket on 127.0.0.1 with an OS-assigned port, opened before the game starts."""

    def __init__(self, host: str = "127.0.0.1") -> None:
        self.sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
        self.sock.bind((host, 0))
        self.sock.listen(1)
        self.port: int = self.sock.getsockname()[1]

    def accept(self, timeout: float, alive: Callable[[], bool], failure: Callable[[str], EngineError],
               check: Callable[[], None] | None = None) -> socket.socket:
        """Wait for the game to connect, checking ``alive()`` (and ``check()``) between short slices.

        Args:
            timeout: seconds before :class:`GodotTimeout`.
            alive: returns False once the game process has exited.
            failure: builds the exception for a game that exited (adds exit status and output).
            check: called every slice; raises when the game's output shows it will never connect
                (see :class:`.startup.StartupWatch`).
        """
        deadline = time.monotonic() + timeout
        self.sock.settimeout(POLL_SLICE_S)
        while True:
            try:
                conn, _ = self.sock.accept()
                conn.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
                return conn
            except TimeoutError:
                pass
            if not alive():
                raise failure(f"the game exited before connecting to the driver on port {self.port}")
            if check is not None:
                check()
            if time.monotonic() >= deadline:
                raise GodotTimeout(
                    f"the game did not connect to the driver on 127.0.0.1:{self.port} within {timeout:g} s "
                    "and printed nothing that says why. Causes: the scene has no sync node (a Godot RL "
                    "Agents Sync node, or rlplaytest's addons/rlplaytest/sync.gd, installed with "
                    "`rlplaytest install-godot-addon PROJECT`): neither prints anything without one; "
                    "scene= names another scene than the one holding it; the game boots slowly (raise "
                    "the limit with --rl-engine-timeout or timeout= in the marker)."
                )

    def close(self) -> None:
        """Stop listening (idempotent)."""
        try:
            self.sock.close()
        except OSError:  # pragma: no cover
            pass


def _set_kernel_timeouts(sock: socket.socket, seconds: float) -> bool:
    """Make ``sock`` blocking with kernel send/receive timeouts of ``seconds`` (False: unsupported)."""
    if not (hasattr(socket, "SO_RCVTIMEO") and hasattr(socket, "SO_SNDTIMEO")) or sys.platform == "win32":
        return False
    whole = int(seconds)
    timeval = struct.pack("@ll", whole, int((seconds - whole) * 1_000_000))
    try:
        sock.settimeout(None)
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_RCVTIMEO, timeval)
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_SNDTIMEO, timeval)
    except (OSError, ValueError):
        return False
    return True


#: what a receive or send that ran into the watch slice raises (kernel timeout: EAGAIN)
_SLICE_EXPIRED = (TimeoutError, BlockingIOError, InterruptedError)


@dataclasses.dataclass(frozen=True)
class SpinPlan:
    """How long each side of a Godot connection polls before a receive blocks (``--rl-recv-spin-us``).

    ``driver_s``: seconds the driver polls for a reply (:attr:`Connection.spin_s`); ``game_us``:
    microseconds our addon polls for the next message (sent as ``recv_spin``; games without our
    addon never spin); ``why``: the rule that decided, for the log.
    """

    driver_s: float
    game_us: int
    why: str


def spin_plan(setting: int, *, instances: int, workers: int | None = None, cpus: int | None = None,
              load: float | None = None) -> SpinPlan:
    """Decide the receive spin of both sides (``--rl-recv-spin-us``).

    ``setting``: microseconds for both sides, 0 (off) or ``-1`` (auto: the driver
    :data:`RECV_SPIN_AUTO_US`, the game :data:`GAME_SPIN_AUTO_US`). Auto is off when the machine is
    oversubscribed, where a spinning process takes a core another needs: when the processes of a
    step, ``workers`` x (``instances`` games + their driver), outnumber the ``cpus`` (a game spins
    while its driver computes, the driver while its games compute), or when the machine is already
    busier than its cores (``load``, the 1-minute load average, above ``cpus``). ``workers``
    defaults to pytest-xdist's worker count (``PYTEST_XDIST_WORKER_COUNT``, 1 without ``-n``),
    ``cpus`` to the cores this process may run on, ``load`` to ``os.getloadavg()`` (0 where there
    is none). Without ``MSG_DONTWAIT`` (Windows): off.
    """
    if setting == 0 or not _DONTWAIT:
        return SpinPlan(0.0, 0, "--rl-recv-spin-us off" if setting == 0 else "no MSG_DONTWAIT on this platform")
    if setting > 0:
        return SpinPlan(setting / 1e6, setting, f"--rl-recv-spin-us {setting}")
    if workers is None:
        workers = int(os.environ.get("PYTEST_XDIST_WORKER_COUNT", "") or 1)
    if cpus is None:
        cpus = len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else (os.cpu_count() or 1)
    if load is None:
        load = os.getloadavg()[0] if hasattr(os, "getloadavg") else 0.0
    processes = workers * (instances + 1)
    if processes > cpus:
        return SpinPlan(0.0, 0, f"auto: off, {workers} worker(s) x ({instances} game(s) + driver) = {processes} "
                                f"processes > {cpus} cores")
    if load > cpus:
        return SpinPlan(0.0, 0, f"auto: off, load average {load:.2f} > {cpus} cores")
    return SpinPlan(RECV_SPIN_AUTO_US / 1e6, GAME_SPIN_AUTO_US,
                    f"auto: {processes} processes <= {cpus} cores, load {load:.2f}")


def recv_spin_message(game_us: int) -> dict[str, Any]:
    """The message that sets our addon's receive spin (no reply; sent only to a game whose
    ``env_info`` says ``rlplaytest.recv_spin``)."""
    return {"type": "recv_spin", "usec": int(game_us)}


class Connection:
    """One game's connection: framed JSON messages with deadlines and crash detection.

    Args:
        sock: the accepted socket.
        timeout: seconds a reply may take.
        alive: returns False once the game process has exited.
        failure: builds the :class:`GodotCrashed` for a dead game (exit status, last output).
        label: names the game in messages.
    """

    def __init__(self, sock: socket.socket, timeout: float, alive: Callable[[], bool],
                 failure: Callable[[str], EngineError], label: str = "the game") -> None:
        self.sock = sock
        self.timeout = timeout
        self.alive = alive
        self.failure = failure
        self.label = label
        self._buf = bytearray(1 << 16)
        self._view = memoryview(self._buf)
        self._start = 0  # unread bytes are self._buf[self._start:self._end]
        self._end = 0
        if not _set_kernel_timeouts(sock, POLL_SLICE_S):
            self.sock.settimeout(POLL_SLICE_S)
        self.closed = False
        #: seconds a receive polls the socket (non-blocking reads) before it blocks: a reply that
        #: arrives within them skips the wake-up of a blocking read (:func:`spin_plan`)
        self.spin_s = 0.0
        #: called whenever a receive has waited one slice (boot: reads the game's output for a
        #: fallback to human control, see :class:`.startup.StartupWatch`); None: nothing
        self.watch: Callable[[], None] | None = None

    def send(self, message: dict[str, Any]) -> None:
        """Send one message (``allow_nan=False``), watching the game while the socket is full."""
        self.send_frame(encode_message(message), message.get("type"))

    def send_frame(self, frame: bytes, kind: Any) -> None:
        """Send one already framed message; a slow or closed game fails naming ``kind``."""
        try:
            sent = self.sock.send(frame)
        except _SLICE_EXPIRED:
            sent = 0
        except OSError as exc:
            raise self.failure(f"sending {kind!r} failed: {exc}") from None
        if sent == len(frame):
            return
        view = memoryview(frame)[sent:]
        deadline = time.monotonic() + self.timeout
        while view:
            try:
                sent = self.sock.send(view)
            except _SLICE_EXPIRED:
                if not self.alive():
                    raise self.failure(f"the game exited while the driver sent {kind!r}") from None
                if time.monotonic() >= deadline:
                    raise GodotTimeout(f"{self.label} has not read its {kind!r} message for "
                                       f"{self.timeout:g} s (it hangs)") from None
                continue
            except OSError as exc:
                raise self.failure(f"sending {kind!r} failed: {exc}") from None
            view = view[sent:]

    def _fill(self, n: int, what: Any, waited: float = 0.0) -> None:
        """Read until at least ``n`` unread bytes are buffered (``waited``: seconds already spent
        waiting for this message, counted against the timeout)."""
        if self._start + n > len(self._buf):  # make room: move the unread bytes to the front
            unread = self._end - self._start
            if n > len(self._buf):
                grown = bytearray(max(n, 2 * len(self._buf)))
                grown[:unread] = self._view[self._start:self._end]
                self._buf, self._view = grown, memoryview(grown)
            else:  # (through a copy: the regions may overlap)
                self._buf[:unread] = bytes(self._view[self._start:self._end])
            self._start, self._end = 0, unread
        deadline = 0.0
        while self._end - self._start < n:
            try:
                got = self.sock.recv_into(self._view[self._end:])
            except _SLICE_EXPIRED:
                if not self.alive():
                    raise self.failure(f"the game exited while the driver waited for its {what}") from None
                if self.watch is not None:
                    self.watch()
                now = time.monotonic()
                if not deadline:  # (set at the first expired slice: the clock is read only when idle)
                    deadline = now - POLL_SLICE_S - waited + self.timeout
                if now >= deadline:
                    raise GodotTimeout(
                        f"{self.label} sent nothing for {self.timeout:g} s while the driver waited for its "
                        f"{what} (it hangs, or is very slow). Raise the limit with --rl-engine-timeout "
                        "or timeout= in the marker if the game legitimately needs longer."
                    ) from None
                continue
            except OSError as exc:
                raise self.failure(f"the connection broke while the driver waited for its {what} ({exc})") from None
            if not got:
                raise self.failure(f"the game closed the connection while the driver waited for its {what}")
            self._end += got

    def recv(self, what: Any) -> dict[str, Any]:
        """Receive one message; ``what`` (e.g. ``"step reply"``) is used in error messages."""
        return parse_message(self.recv_body(what), what)

    def recv_body(self, what: Any) -> memoryview:
        """Receive one message's body as it came (JSON text, or a binary step reply: see
        :func:`is_binary_body`); valid until the next receive."""
        waited = 0.0
        if self._start == self._end:  # nothing buffered (lockstep: the usual case): one plain read
            self._start = self._end = 0
            try:
                got = self._spin() if self.spin_s else 0
                if got <= 0:
                    got = self.sock.recv_into(self._view)
            except _SLICE_EXPIRED:
                got, waited = -1, POLL_SLICE_S
            except OSError:  # a broken connection: the careful path below reports it
                got = -1
            if got > 0:
                self._end = got
            elif got == 0:
                raise self.failure(f"the game closed the connection while the driver waited for its {what}")
        if self._end - self._start < 4:
            self._fill(4, what, waited)
        start = self._start
        length = int.from_bytes(self._view[start:start + 4], "little")
        if length > MAX_MESSAGE_BYTES:
            raise ProtocolError(f"{what}: the game announced a {length}-byte message; the stream is corrupt")
        if self._end - start < 4 + length:
            self._fill(4 + length, what, waited)
            start = self._start
        body = self._view[start + 4:start + 4 + length]
        self._start = start + 4 + length
        if self._start == self._end:
            self._start = self._end = 0
        return body

    def _spin(self) -> int:
        """Poll for the reply for :attr:`spin_s`: the bytes read, or -1 when none came in time
        (an end of stream reads as -1 too: the blocking read that follows reports it)."""
        end = time.perf_counter() + self.spin_s
        while True:
            try:
                got = self.sock.recv_into(self._view, 0, _DONTWAIT)
            except BlockingIOError:
                if time.perf_counter() >= end:
                    return -1
                continue
            return got if got > 0 else -1

    def request(self, message: dict[str, Any], expect: str, what: str) -> dict[str, Any]:
        """Send ``message`` and return the reply of type ``expect``."""
        self.send(message)
        return self.expect(expect, what)

    def expect(self, expect: str, what: Any, first: dict[str, Any] | None = None) -> dict[str, Any]:
        """Receive the next message and check its type (a stray ``handshake`` echo is skipped);
        ``first``: an already received message to check first."""
        while True:
            reply, first = (first, None) if first is not None else (self.recv(what), None)
            kind = reply.get("type")
            if kind == expect:
                return reply
            if kind == "handshake":
                continue
            if kind == "error":
                raise ProtocolError(f"{what}: the game reported an error: {reply.get('message')!r}")
            raise ProtocolError(f"{what}: expected a message of type {expect!r}, the game sent type {kind!r} "
                                f"(keys {sorted(reply)})")

    def close(self) -> None:
        """Close the socket (idempotent)."""
        if self.closed:
            return
        self.closed = True
        try:
            self.sock.close()
        except OSError:  # pragma: no cover
            pass


def handshake_message() -> dict[str, Any]:
    """The handshake (the game does not answer it). ``rlplaytest.f32`` offers our addon's float32
    blocks for step replies, ``rlplaytest.actions_f32`` binary action blocks (:func:`action_block`),
    ``rlplaytest.step_f32`` binary step replies (:func:`is_binary_body`); the addon accepts each in
    its ``env_info``; other games ignore the extra key."""
    return {"type": "handshake", "major_version": MAJOR_VERSION, "minor_version": MINOR_VERSION,
            "rlplaytest": {"f32": True, "actions_f32": True, "step_f32": True}}


#: Godot's var2bytes type tag of a PoolRealArray (``core/variant.h`` ``Variant::POOL_REAL_ARRAY``
#: in 3.x); a binary action message is ``u32 22, u32 count, float32 values`` (little-endian)
POOL_REAL_ARRAY_TAG = 22


def is_binary_body(body: memoryview) -> bool:
    """A binary step reply of our addon (``step_f32`` accepted): Godot's ``var2bytes`` of a
    PoolRealArray holding the float32 block's values, then, only when an agent is done or an info
    is not empty, ``{"done": [...], "info": [...]}`` as JSON text (its first byte, 22, can never
    start a JSON message)."""
    return len(body) > 0 and body[0] == POOL_REAL_ARRAY_TAG


def action_block(values: Any) -> bytes:
    """The framed binary action message for a float32 array of actions (agent by agent, the
    action keys in the game's order): u32 length, then var2bytes of a PoolRealArray, which our
    addon reads with ``bytes2var`` (its first byte, 22, can never start a JSON message)."""
    flat = values.astype("<f4", copy=False).tobytes()
    count = len(flat) // 4
    return struct.pack("<III", 8 + len(flat), POOL_REAL_ARRAY_TAG, count) + flat
