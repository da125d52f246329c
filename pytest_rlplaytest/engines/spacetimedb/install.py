"""Find the SpacetimeDB binaries behind the configured ``spacetime`` and build isolated command lines.

A standard install (``curl -sSf https://install.spacetimedb.com | sh``) puts a *version-manager proxy*
on PATH as ``spacetime`` (a copy of ``spacetimedb-update``: ``crates/update/src/cli/self_install.rs:
64-67 @2.8.3``) and the real binaries in ``~/.local/share/spacetime/bin/<version>/`` with a ``current``
link (``crates/paths/src/lib.rs:225-264``, ``crates/paths/src/cli.rs:39-46,76-94``). What that means
for isolating a test server (``@1.12`` = tag v1.12.0, ``@2.8.3`` = tag v2.8.3):

* The proxy reads only ``--root-dir`` itself, and only up to the first argument not starting with
  ``-`` (``crates/update/src/proxy.rs:148-181 @2.8.3``). ``--root-dir DIR`` (space) is rejected (its
  value check tests the option, not the value: ``proxy.rs:153,161-164``); ``--root-dir=DIR`` makes it
  exec ``DIR/bin/current/spacetimedb-cli``, which a fresh directory lacks (``proxy.rs:39,55-70``). So the
  proxy is never given ``--root-dir``; ``--config-path=FILE`` passes through untouched (``proxy.rs:46-47``).
* ``spacetime --version`` prints ``Path: <the real spacetimedb-cli>`` (its ``current_exe``,
  ``crates/cli/src/version.rs:4-13``), even through the proxy. Beside it lies ``spacetimedb-standalone``,
  the binary ``spacetime start`` execs (``crates/cli/src/util.rs:376-384 @2.8.3``).
* ``spacetimedb-standalone start`` needs ``--data-dir``; ``--jwt-key-dir`` holds the key pair that signs
  identities; ``--listen-addr 127.0.0.1:0`` takes a free port and ``--non-interactive`` (from v1.11.3)
  fails at once instead of prompting on a busy port (``crates/standalone/src/subcommands/start.rs:27-97
  @2.8.3``). It has no global options (``crates/standalone/src/main.rs:18-25``).
* ``spacetimedb-cli`` takes ``--root-dir``/``--config-path`` before the subcommand, spaced or with ``=``
  (``crates/cli/src/main.rs:65-76``); ``cli.toml`` holds the one login token (``crates/cli/src/config.rs``),
  so each server key pair gets its own ``cli.toml`` and ``publish --yes`` logs in directly to that server
  (``crates/cli/src/util.rs:349-374 @2.8.3``).
* When only the proxy or CLI can start the server, ``spacetime start`` is given ``--data-dir`` and
  ``--jwt-key-dir`` again: it puts its own defaults first and standalone keeps the *last* value
  (``args_override_self``, ``standalone/src/subcommands/start.rs:30 @2.8.3``; the comment at
  ``crates/cli/src/subcommands/start.rs:64-68 @2.8.3``).

So the server runs as ``spacetimedb-standalone`` directly when it can be found (no proxy, no update
check, no user directory touched), and the CLI runs as the real ``spacetimedb-cli`` with
``--root-dir=ROOT --config-path=ROOT/cli.toml``; through the proxy only ``--config-path=…`` is passed.
"""

from __future__ import annotations

import os
import re
import shutil
import subprocess
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path

from ..base import EngineError, EngineUnavailable

INSTALL_HINT = (
    "Install the SpacetimeDB CLI (curl -sSf https://install.spacetimedb.com | sh, see "
    "https://spacetimedb.com/install) and put `spacetime` on PATH, or point --spacetime-bin / "
    "SPACETIME_BIN at it (the `spacetime` proxy, `spacetimedb-cli` or `spacetimedb-standalone`), or pass "
    "--spacetimedb-url for a server that is already running."
)

VERSION_RE = re.compile(r"spacetimedb tool version (\d+)\.(\d+)\.(\d+)")
ANY_VERSION_RE = re.compile(r"(\d+)\.(\d+)\.(\d+)")
PATH_RE = re.compile(r"^Path:\s*(.+?)\s*$", re.MULTILINE)

CLI_NAME = "spacetimedb-cli"
STANDALONE_NAME = "spacetimedb-standalone"

#: ``--non-interactive`` exists on ``spacetimedb-standalone start`` from this version on
#: (absent at v1.11.2, present at v1.11.3: ``crates/standalone/src/subcommands/start.rs``)
NON_INTERACTIVE_SINCE = (1, 11, 3)
#: ``publish --no-config`` (ignore a ``spacetime.json`` found in the working directory) from v2.0.0
#: (``crates/cli/src/subcommands/publish.rs:214 @v2.0.0``, ``:303-307 @2.8.3``)
NO_CONFIG_SINCE = (2, 0, 0)


def tail(text: str, lines: int = 30) -> str:
    """The last ``lines`` lines of ``text`` (for error messages)."""
    rows = text.rstrip().splitlines()
    cut = rows[-lines:]
    return ("…\n" if len(rows) > lines else "") + "\n".join(cut)


def find_spacetime(configured: str | None = None, environ: Mapping[str, str] | None = None) -> str:
    """Return the path of the SpacetimeDB entry binary.

    Order: ``configured`` (the ``spacetime_bin`` setting), ``$SPACETIME_BIN``, ``spacetime`` on ``PATH``.

    Raises:
        EngineUnavailable: when none is found (with an install hint).
    """
    environ = os.environ if environ is None else environ
    for source, candidate in (("--spacetime-bin", configured), ("SPACETIME_BIN", environ.get("SPACETIME_BIN"))):
        if candidate:
            path = shutil.which(candidate) or (candidate if os.access(candidate, os.X_OK) else None)
            if path is None:
                raise EngineUnavailable(f"{source} points at {candidate!r}, which is not an executable file.",
                                        INSTALL_HINT)
            return str(Path(path).absolute())
    found = shutil.which("spacetime", path=environ.get("PATH"))
    if found is None:
        raise EngineUnavailable("The SpacetimeDB CLI `spacetime` was not found on PATH.", INSTALL_HINT)
    return found


def parse_version(text: str) -> tuple[int, int, int] | None:
    """Parse ``--version`` output (``spacetimedb tool version 1.3.0; …``)."""
    m = VERSION_RE.search(text) or ANY_VERSION_RE.search(text)
    return (int(m.group(1)), int(m.group(2)), int(m.group(3))) if m else None


def _run_version(binary: str, timeout: float) -> str:
    try:
        proc = subprocess.run([binary, "--version"], capture_output=True, text=True, timeout=timeout,
                              stdin=subprocess.DEVNULL, check=False)
    except (OSError, subprocess.TimeoutExpired) as exc:
        raise EngineError(f"`{binary} --version` failed: {exc}") from exc
    output = proc.stdout + proc.stderr
    if proc.returncode != 0 or parse_version(output) is None:
        raise EngineError(f"`{binary} --version` exited with status {proc.returncode} and printed no version:\n"
                          f"{tail(output)}\nIs this the SpacetimeDB CLI? If it is the `spacetime` proxy, "
                          "`spacetime version list` shows the installed versions.")
    return output


def spacetime_version(binary: str, timeout: float = 30.0) -> tuple[int, int, int]:
    """Run ``binary --version`` and parse it.

    Raises:
        EngineError: when it fails or prints no version.
    """
    version = parse_version(_run_version(binary, timeout))
    assert version is not None
    return version


def _executable(path: Path) -> bool:
    return path.is_file() and os.access(path, os.X_OK)


@dataclass(frozen=True)
class SpacetimeInstall:
    """The SpacetimeDB binaries found from one entry binary.

    Attributes:
        entry: the configured or PATH ``spacetime`` (proxy), ``spacetimedb-cli`` or ``spacetimedb-standalone``.
        version: the version the entry reports.
        cli: the binary that runs CLI subcommands (the real ``spacetimedb-cli`` when found, else ``entry``);
            None when only ``spacetimedb-standalone`` was found.
        cli_is_real: ``cli`` is ``spacetimedb-cli`` itself (accepts ``--root-dir=``), not the proxy.
        standalone: ``spacetimedb-standalone`` beside the real CLI (None: start through ``cli start``).
    """

    entry: str
    version: tuple[int, int, int]
    cli: str | None
    cli_is_real: bool
    standalone: str | None

    @classmethod
    def locate(cls, entry: str, timeout: float = 30.0) -> SpacetimeInstall:
        """Run ``entry --version`` and find the real binaries from its ``Path:`` line.

        Raises:
            EngineError: when ``entry`` prints no version.
        """
        output = _run_version(entry, timeout)
        version = parse_version(output)
        assert version is not None
        entry_path = Path(entry)
        if entry_path.name == STANDALONE_NAME:
            sibling = entry_path.resolve().parent / CLI_NAME
            return cls(entry, version, str(sibling) if _executable(sibling) else None, _executable(sibling), entry)
        m = PATH_RE.search(output)
        real = Path(m.group(1)) if m else None
        if real is not None and _executable(real):
            cli, is_real = str(real), True
        else:
            cli, is_real = entry, entry_path.name == CLI_NAME
        standalone = Path(cli).resolve().parent / STANDALONE_NAME
        return cls(entry, version, cli, is_real, str(standalone) if _executable(standalone) else None)

    def cli_globals(self, root: Path) -> list[str]:
        """Global options isolating the CLI in ``root`` (``--root-dir=`` only for the real CLI)."""
        config = f"--config-path={root / 'cli.toml'}"
        return [f"--root-dir={root}", config] if self.cli_is_real else [config]

    def start_argv(self, root: Path, listen: str = "127.0.0.1:0", in_memory: bool = False) -> list[str]:
        """The command starting an isolated server with data and keys in ``root``."""
        server_args = ["--data-dir", str(root / "data"), "--jwt-key-dir", str(root / "keys"),
                       "--listen-addr", listen]
        if in_memory:
            server_args.append("--in-memory")
        if self.version >= NON_INTERACTIVE_SINCE:
            server_args.append("--non-interactive")
        if self.standalone is not None:
            return [self.standalone, "start", *server_args]
        return [self._need_cli("start a server"), *self.cli_globals(root), "start", *server_args]

    def publish_argv(self, root: Path, url: str, module_dir: Path, database: str, clear: bool = True) -> list[str]:
        """``publish -s URL -p MODULE DB [-c] --yes`` with the login kept in ``root/cli.toml``.

        ``-c`` alone means ``always`` at 1.12 and 2.8.3 alike (``num_args(0..=1)``, ``require_equals``,
        ``crates/cli/src/common_args.rs:42-57 @2.8.3``, ``:48-63 @1.12``); ``--yes`` goes last so it can
        never swallow the database name (a bare ``--yes`` is ``all`` at 2.8.3: ``publish.rs:283-301``).
        """
        args = [self._need_cli("publish a module"), *self.cli_globals(root), "publish", "-s", url,
                "-p", str(module_dir), database]
        if clear:
            args.append("-c")
        if self.version >= NO_CONFIG_SINCE:
            args.append("--no-config")
        args.append("--yes")
        return args

    def _need_cli(self, what: str) -> str:
        if self.cli is None:
            raise EngineUnavailable(f"to {what} the SpacetimeDB CLI is needed, but {self.entry} has no "
                                    f"{CLI_NAME} beside it.", INSTALL_HINT)
        return self.cli
