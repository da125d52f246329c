"""TEST DOUBLE: a fake ``spacetime`` CLI for testing the server launcher without the real binary.

Not SpacetimeDB. It mimics only what ``pytest_rlplaytest.engines.spacetimedb.server`` relies on
(from ``shared/notes/spacetimedb-protocol.md``): ``--version`` output, the global ``--root-dir`` /
``--config-path`` flags, ``start -l ADDR --data-dir DIR [--non-interactive]`` logging ``Starting
SpacetimeDB listening on <addr>`` and serving ``/v1/ping`` (it runs the fake WebSocket server), and
``publish -s URL -p DIR DB …`` printing ``identity: <hex>``. Every invocation's argv is appended to
``$FAKE_SPACETIME_LOG`` (JSON lines) so tests can assert on the exact flags.

Behaviour switches (environment): ``FAKE_SPACETIME_VERSION`` (default 2.3.0),
``FAKE_SPACETIME_MODE`` = ``ok`` | ``crash`` (start exits 3 after printing an error) | ``hang``
(start never listens) | ``publish-fail`` (publish exits 1), ``FAKE_SPACETIME_CHILD=1`` (start spawns
a long-running child process and writes its pid to ``<root>/child.pid``).
"""

from __future__ import annotations

import asyncio
import json
import os
import subprocess
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))

from fake_spacetimedb_server import FakeSpacetimeDB


def main(argv: list[str]) -> int:
    log = os.environ.get("FAKE_SPACETIME_LOG")
    if log:
        with open(log, "a") as fh:
            fh.write(json.dumps(argv) + "\n")
    version = os.environ.get("FAKE_SPACETIME_VERSION", "2.3.0")
    mode = os.environ.get("FAKE_SPACETIME_MODE", "ok")
    if argv[:1] == ["--version"]:
        print(f"spacetime Path: {__file__}\nCommit: 0000fake\n"
              f"spacetimedb tool version {version}; spacetimedb-lib version {version};")
        return 0
    root = None
    while argv and argv[0] in ("--root-dir", "--config-path"):
        if argv[0] == "--root-dir":
            root = Path(argv[1])
        argv = argv[2:]
    if root is None:
        print("error: the test double insists on --root-dir (isolation)", file=sys.stderr)
        return 2
    command, args = argv[0], argv[1:]
    if command == "start":
        listen = args[args.index("-l") + 1]
        if "--data-dir" not in args:
            print("error: --data-dir missing", file=sys.stderr)
            return 2
        print("spacetimedb-standalone (test double) starting", flush=True)
        if os.environ.get("FAKE_SPACETIME_CHILD"):
            child = subprocess.Popen([sys.executable, "-c", "import time; time.sleep(300)"])
            (root / "child.pid").write_text(str(child.pid))
        if mode == "crash":
            print("Error: failed to open the data directory: Permission denied (os error 13)", flush=True)
            return 3
        if mode == "hang":
            time.sleep(600)
            return 0
        _host, _, port = listen.rpartition(":")
        return asyncio.run(serve(int(port)))
    if command == "publish":
        server = args[args.index("-s") + 1]
        module = args[args.index("-p") + 1]
        if mode == "publish-fail":
            print(f"error[E0425]: cannot find value `x` in this scope\n --> {module}/src/lib.rs:3:5")
            print("Error: build failed", file=sys.stderr)
            return 1
        positional = [a for i, a in enumerate(args) if not a.startswith("-") and args[i - 1] not in ("-s", "-p")]
        db = positional[0]
        print(f"Uploading to {server} => {server}\nPublishing module...")
        print(f"Created new database with name: {db}, identity: c2000000000000000000000000000000000000000000000000000000000000{len(db):02x}")
        return 0
    print(f"error: the test double does not implement `{command}`", file=sys.stderr)
    return 2


async def serve(port: int) -> int:
    server = FakeSpacetimeDB(tick_ms=50)
    url = await server.start(port)
    print(f"Starting SpacetimeDB listening on {url.removeprefix('http://').replace('127.0.0.1', '0.0.0.0')}",
          flush=True)
    try:
        await asyncio.Event().wait()
    finally:
        await server.stop()
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
