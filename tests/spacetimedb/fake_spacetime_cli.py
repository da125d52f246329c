"""TEST DOUBLE: the three SpacetimeDB binaries of a standard install, as one multicall script.

Not SpacetimeDB. Rebuilt from the source (``clockworklabs/SpacetimeDB``, ``@2.8.3`` = tag v2.8.3,
``@1.12`` = tag v1.12.0) behaviour by behaviour; ``conftest.fake_install`` lays them out like the official
installer (``~/.local/bin/spacetime`` and ``~/.local/share/spacetime/bin/<version>/`` with a ``current``
link: ``crates/paths/src/lib.rs:225-264``, ``crates/paths/src/cli.rs:39-46,76-94``). Each wrapper runs
``python fake_spacetime_cli.py --exe=<its own path> ARGS…``; the applet is the exe's name:

* ``spacetime``: the version-manager proxy (``crates/update/src/main.rs:11-38``, ``proxy.rs:10-181 @2.8.3``).
  It reads ``--root-dir`` itself -- rejecting ``--root-dir DIR`` (space) as the source does -- and execs
  ``<root or ~/.local/share/spacetime>/bin/current/spacetimedb-cli`` with the arguments unchanged, or fails
  with ``It seems like the spacetime version set as current may not exist`` when that file is missing.
  From 2.2 it first refreshes ``<cli-config-dir>/.update_check_cache`` (``update_notice.rs:14-35``;
  the double writes the cache without any network).
* ``spacetimedb-cli``: global ``--root-dir``/``--config-path`` before the subcommand, spaced or ``=``
  (``crates/cli/src/main.rs:35-76``); ``--version`` prints ``Path: <its exe>`` (``version.rs:4-13``);
  ``cli.toml`` is created when missing (``config.rs:617-632 @1.12``); ``start`` execs the sibling
  ``spacetimedb-standalone start --data-dir D --jwt-key-dir K [forwarded]`` (``subcommands/start.rs:49-73
  @2.8.3``); ``publish`` logs in directly to the target server when ``cli.toml`` has no token
  (``util.rs:349-374 @2.8.3``, ``login.rs:290-300``), prints what the real one prints and uploads with
  ``PUT /v1/database/NAME`` (``publish.rs:580-653 @2.8.3``; the "wasm" is the module's Cargo package name).
* ``spacetimedb-standalone``: ``start`` with last-value-wins options (``args_override_self``), a required
  ``--data-dir``, JWT keys from ``--jwt-key-dir`` (generated when both files are missing), the banner lines,
  the busy-port rule and the tracing-formatted ``Starting SpacetimeDB listening on ADDR`` line
  (``crates/standalone/src/subcommands/start.rs:27-97,146-151,175-182,217-264 @2.8.3``), then serves
  :class:`fake_spacetimedb_server.FakeSpacetimeDB` with the 1.12 or 2.8.3 rules.

Every invocation is appended to ``$FAKE_SPACETIME_LOG`` as JSON ``{"applet", "argv"}``. Switches:
``FAKE_SPACETIME_MODE`` = ``ok`` | ``crash`` (standalone exits 3 after an error line) | ``hang`` (never
listens) | ``publish-fail`` (publish prints a compiler error, exits 1); ``FAKE_SPACETIME_CHILD=1`` (start
spawns a long-running child and writes its pid to ``<data-dir>/child.pid``); ``FAKE_SPACETIME_NO_PATH=1``
(``--version`` prints no ``Path:`` line, like a wrapper script that hides the real binary).
"""

from __future__ import annotations

import asyncio
import datetime
import json
import os
import re
import secrets
import socket
import subprocess
import sys
import time
import urllib.error
import urllib.request
from pathlib import Path

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE))

VERSION_FILE = "fake-version"  # beside the binaries: which version this fake install is


class Exit(Exception):
    def __init__(self, code: int, message: str = "") -> None:
        super().__init__(message)
        self.code, self.message = code, message


def version_of(exe: Path) -> str:
    marker = exe.resolve().parent / VERSION_FILE
    return marker.read_text().strip() if marker.exists() else os.environ.get("FAKE_SPACETIME_VERSION", "2.8.3")


def vtuple(version: str) -> tuple[int, int, int]:
    a, b, c = (int(x) for x in version.split(".")[:3])
    return a, b, c


def xdg(var: str, default: str) -> Path:
    value = os.environ.get(var)
    return Path(value) if value and Path(value).is_absolute() else Path.home() / default


def platform_paths() -> dict[str, Path]:
    """``SpacetimePaths::platform_defaults`` on Linux (``crates/paths/src/lib.rs:225-255``)."""
    return {"config": xdg("XDG_CONFIG_HOME", ".config") / "spacetime",
            "bin": xdg("XDG_DATA_HOME", ".local/share") / "spacetime" / "bin",
            "data": xdg("XDG_DATA_HOME", ".local/share") / "spacetime" / "data"}


def root_paths(root: Path) -> dict[str, Path]:
    """``SpacetimePaths::from_root_dir`` (``lib.rs:183-198,257-264``)."""
    return {"config": root / "config", "bin": root / "bin", "data": root / "data"}


# == the proxy =========================================================================================
def proxy_parse(args: list[str]) -> tuple[Path | None, str | None]:
    """``PartialCliArgs::parse`` (``proxy.rs:148-181 @2.8.3``), bug for bug: the value test looks at the
    *option* (``--root-dir``), so the next argument is accepted only if it is exactly ``-``."""
    root: Path | None = None
    subcommand = None
    it = iter(args)
    for arg in it:
        is_value = not arg.startswith("-") or arg == "-"
        if is_value:
            subcommand = arg
            break
        if arg == "--":
            break
        if arg == "--root-dir":
            value = next(it, None)
            if value != "-":  # `.filter(|s| is_arg_value(s))` tests `arg`, which starts with "-"
                raise Exit(1, "Error: a value is required for '--root-dir <root_dir>' but none was supplied")
        elif arg.startswith("--root-dir="):
            value = arg[len("--root-dir="):]
        else:
            continue
        if root is not None:
            raise Exit(1, "Error: the argument '--root-dir <root_dir>' cannot be used multiple times")
        root = Path(value)
    return root, subcommand


def proxy(exe: Path, args: list[str]) -> int:
    if args[:1] == ["version"]:
        return version_manager(args[1:])
    root, _ = proxy_parse(args)
    paths = root_paths(root) if root is not None else platform_paths()
    cli = paths["bin"] / "current" / "spacetimedb-cli"
    if vtuple(version_of(exe)) >= (2, 2, 0):
        cache = paths["config"] / ".update_check_cache"  # update_notice.rs:14-35,71-111
        cache.parent.mkdir(parents=True, exist_ok=True)
        cache.write_text(json.dumps({"last_check_secs": int(time.time()), "latest_version": version_of(exe)}))
    try:
        os.execv(cli, [str(exe), *args])
    except OSError as exc:
        raise Exit(1, "Error: It seems like the spacetime version set as current may not exist. Try using "
                      "`spacetime version`\nto set a different version as default or to install a new version "
                      f"altogether.\n\nCaused by:\n    0: exec failed for {cli}\n    1: exec failed for {cli}\n"
                      f"    2: {exc.strerror} (os error {exc.errno})") from None
    return 0  # not reached


def version_manager(args: list[str]) -> int:
    if args[:1] == ["list"]:
        bin_dir = platform_paths()["bin"]
        current = (bin_dir / "current").resolve().name if (bin_dir / "current").exists() else ""
        for d in sorted(p.name for p in bin_dir.iterdir() if p.is_dir() and p.name != "current"):
            print(f"{d}{' (current)' if d == current else ''}")
        return 0
    raise Exit(2, "error: the test double implements only `spacetime version list`")


# == spacetimedb-cli ===================================================================================
def cli_globals(args: list[str]) -> tuple[dict[str, str], list[str]]:
    """clap on the top-level command: ``--root-dir``/``--config-path`` before the subcommand."""
    found: dict[str, str] = {}
    while args and args[0].startswith("-"):
        arg = args.pop(0)
        name, eq, value = arg.partition("=")
        if name not in ("--root-dir", "--config-path"):
            raise Exit(2, f"error: unexpected argument '{arg}' found")
        if not eq:
            if not args:
                raise Exit(2, f"error: a value is required for '{name} <{name[2:].upper()}>' but none was supplied")
            value = args.pop(0)
        found[name] = value
    if not args:
        raise Exit(2, "error: 'spacetime' requires a subcommand but one was not provided")
    return found, args


def load_config(path: Path) -> dict[str, str]:
    """``Config::load`` creates a default ``cli.toml`` when it is missing (``config.rs:617-632 @1.12``)."""
    if not path.exists():
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text('default_server = "maincloud"\n\n[[server_configs]]\nnickname = "maincloud"\n'
                        'host = "maincloud.spacetimedb.com"\nprotocol = "https"\n\n[[server_configs]]\n'
                        'nickname = "local"\nhost = "127.0.0.1:3000"\nprotocol = "http"\n')
    return dict(re.findall(r'^(\w+)\s*=\s*"([^"]*)"', path.read_text(), re.MULTILINE))


def cli(exe: Path, args: list[str]) -> int:
    version = version_of(exe)
    if args[:1] in (["--version"], ["-V"]):
        path_line = "" if os.environ.get("FAKE_SPACETIME_NO_PATH") else f"Path: {exe.resolve()}\n"
        print(f"{path_line}Commit: 0000fake\nspacetimedb tool version {version}; spacetimedb-lib version {version};")
        return 0
    opts, rest = cli_globals(list(args))
    paths = root_paths(Path(opts["--root-dir"])) if "--root-dir" in opts else platform_paths()
    toml = Path(opts.get("--config-path") or paths["config"] / "cli.toml")
    config = load_config(toml)
    command, sub = rest[0], rest[1:]
    if command == "start":
        return cli_start(exe, paths, config, sub)
    if command == "publish":
        return cli_publish(exe, toml, config, sub, vtuple(version))
    raise Exit(2, f"error: the test double does not implement `{command}`")


def cli_start(exe: Path, paths: dict[str, Path], config: dict[str, str], args: list[str]) -> int:
    """``spacetime start``: exec the sibling standalone with the defaults first (``start.rs:49-73 @2.8.3``)."""
    standalone = exe.resolve().parent / "spacetimedb-standalone"
    argv = [str(standalone), "start", "--data-dir", str(paths["data"]), "--jwt-key-dir", str(paths["config"])]
    if "listen_addr" in config:
        argv += ["--listen-addr", config["listen_addr"]]
    forwarded = [a for a in args if not a.startswith("--edition")]
    try:
        os.execv(standalone, [*argv, *forwarded])
    except OSError as exc:
        raise Exit(1, f"Error: exec failed for {standalone}\n\nCaused by:\n    {exc.strerror}") from None
    return 0


def parse_publish(args: list[str], version: tuple[int, int, int]) -> dict[str, object]:
    """``publish``'s clap arguments (``publish.rs:193-323 @2.8.3``, ``:17-103 @1.12``)."""
    out: dict[str, object] = {"yes": False, "clear": None, "no_config": False, "anonymous": False}
    module_long = "--module-path" if version >= (2, 0, 0) else "--project-path"
    takes_value = {"-s": "server", "--server": "server", "-p": "module", module_long: "module",
                   "-b": "bin", "--bin-path": "bin", "--build-options": "build"}
    positional: list[str] = []
    it = iter(args)
    for arg in it:
        name, eq, value = arg.partition("=")
        if name in takes_value:
            out[takes_value[name]] = value if eq else next(it, "")
        elif name in ("-c", "--delete-data", "--clear-database"):
            out["clear"] = value if eq else "always"  # require_equals: `-c always` is a positional
        elif name in ("-y", "--yes"):
            out["yes"] = True
        elif name == "--no-config" and version >= (2, 0, 0):
            out["no_config"] = True
        elif name == "--anonymous":
            out["anonymous"] = True
        elif arg.startswith("-"):
            raise Exit(2, f"error: unexpected argument '{arg}' found")
        else:
            positional.append(arg)
    if len(positional) > 1:
        raise Exit(2, f"error: unexpected argument '{positional[1]}' found")
    out["database"] = positional[0] if positional else None
    return out


def http(method: str, url: str, body: bytes | None = None, token: str | None = None) -> tuple[int, str]:
    req = urllib.request.Request(url, data=body, method=method)
    if token:
        req.add_header("Authorization", f"Bearer {token}")
    opener = urllib.request.build_opener(urllib.request.ProxyHandler({}))
    try:
        with opener.open(req, timeout=10) as resp:
            return resp.status, resp.read().decode()
    except urllib.error.HTTPError as exc:
        return exc.code, exc.read().decode()


def login(toml: Path, config: dict[str, str], server: str) -> str:
    """An existing ``spacetimedb_token`` is used as is; else a direct login to the target server, saved."""
    if config.get("spacetimedb_token"):
        return config["spacetimedb_token"]
    status, text = http("POST", f"{server}/v1/identity", b"")
    if status != 200:
        raise Exit(1, f"Error: logging in to {server} failed: HTTP {status} {text}")
    token = json.loads(text)["token"]
    toml.write_text(f'spacetimedb_token = "{token}"\n' + toml.read_text())
    print("We have logged in directly to your target server.\nWARNING: This login will NOT work for any other servers.")
    return token


def cli_publish(exe: Path, toml: Path, config: dict[str, str], args: list[str], version: tuple[int, int, int]) -> int:
    opts = parse_publish(args, version)
    server = str(opts.get("server") or "")
    if not server.startswith("http"):
        raise Exit(1, f"Error: the test double needs -s URL, got {server!r}")
    module = Path(str(opts.get("module") or "."))
    cargo = module / "Cargo.toml"
    if not cargo.exists():
        raise Exit(1, f"Error: could not detect the language of the module at {module}")
    if os.environ.get("FAKE_SPACETIME_MODE") == "publish-fail":
        print(f"error[E0425]: cannot find value `x` in this scope\n --> {module}/src/lib.rs:3:5")
        raise Exit(1, "Error: build failed")
    token = None if opts["anonymous"] else login(toml, config, server)
    database = opts["database"]
    print(f"Uploading to {server} => {server}")
    query = ""
    if opts["clear"] == "always" and database:
        print(f"This will DESTROY the current {database} module, and ALL corresponding data.")
        print("Skipping confirmation due to --yes" if opts["yes"] else "Are you sure you want to proceed? [y/N]")
        query = "?clear=true"
    print("Publishing module...")
    package = re.search(r'^name\s*=\s*"([^"]+)"', cargo.read_text(), re.MULTILINE)
    status, text = http("PUT", f"{server}/v1/database/{database}{query}", (package.group(1) if package else "").encode(),
                        token)
    if status != 200:
        raise Exit(1, f"Error: {status}: {text}")
    result = json.loads(text)["Success"]
    op = "Created new" if result["op"] == "Created" else "Updated"
    print(f"{op} database with name: {result['domain']}, identity: {result['database_identity']}")
    return 0


# == spacetimedb-standalone ============================================================================
def parse_start(args: list[str], version: tuple[int, int, int]) -> dict[str, str | bool]:
    """``spacetimedb-standalone start`` (``start.rs:27-97 @2.8.3``): ``args_override_self`` -> the last
    value of a repeated option wins; ``--non-interactive`` exists from v1.11.3."""
    values: dict[str, str | bool] = {"listen": "0.0.0.0:3000"}
    names = {"-l": "listen", "--listen-addr": "listen", "--data-dir": "data", "--jwt-key-dir": "keys",
             "--jwt-pub-key-path": "pub", "--jwt-priv-key-path": "priv", "--pg-port": "pg"}
    switches = {"--in-memory": "in_memory", "--enable-tracy": "tracy"}
    if version >= (1, 11, 3):
        switches["--non-interactive"] = "non_interactive"
    it = iter(args)
    for arg in it:
        name, eq, value = arg.partition("=")
        if name in names:
            values[names[name]] = value if eq else next(it, "")
        elif arg in switches:
            values[switches[arg]] = True
        else:
            raise Exit(2, f"error: unexpected argument '{arg}' found")
    if "data" not in values:
        raise Exit(2, "error: the following required arguments were not provided:\n  --data-dir <data_dir>")
    return values


def jwt_key(values: dict[str, str | bool]) -> bytes:
    """``--jwt-key-dir`` holds ``id_ecdsa``/``id_ecdsa.pub``; both missing -> generated; one missing -> error
    (``crates/core/src/auth/mod.rs:48-70 @2.8.3``); neither keys nor dir -> ``start.rs:179-182``."""
    if "keys" not in values:
        raise Exit(1, "Error: cannot omit --jwt-{pub,priv}-key-path when those options are not specified in config.toml")
    keys = Path(str(values["keys"]))
    priv, pub = keys / "id_ecdsa", keys / "id_ecdsa.pub"
    if not priv.exists() and not pub.exists():
        keys.mkdir(parents=True, exist_ok=True)
        secret = secrets.token_hex(32)
        priv.write_text(secret)
        pub.write_text(secret)
    elif not (priv.exists() and pub.exists()):
        raise Exit(1, f"Error: only one of {priv} and {pub} exists")
    return priv.read_text().encode()


def port_free(host: str, port: int) -> bool:
    with socket.socket() as s:
        try:
            s.bind((host, port))
        except OSError:
            return False
    return True


def standalone(exe: Path, args: list[str]) -> int:
    version = version_of(exe)
    if args[:1] in (["--version"], ["-V"]):
        print(f"spacetimedb tool version {version}; spacetimedb-lib version {version};")
        return 0
    if args[:1] != ["start"]:
        raise Exit(2, "error: the test double implements only `start`")
    values = parse_start(args[1:], vtuple(version))
    key = jwt_key(values)
    data = Path(str(values["data"]))
    data.mkdir(parents=True, exist_ok=True)
    if not (data / "config.toml").exists():
        (data / "config.toml").write_text('[logs]\ndirectives = ["spacetimedb_standalone=debug"]\n')
    print(f"spacetimedb-standalone version: {version}\nspacetimedb-standalone path: {exe.resolve()}\n"
          f"database running in data directory {data}", flush=True)
    if os.environ.get("FAKE_SPACETIME_CHILD"):
        child = subprocess.Popen([sys.executable, "-c", "import time; time.sleep(300)"])
        (data / "child.pid").write_text(str(child.pid))
    mode = os.environ.get("FAKE_SPACETIME_MODE", "ok")
    if mode == "crash":
        print("Error: failed to open the data directory: Permission denied (os error 13)", flush=True)
        return 3
    if mode == "hang":
        time.sleep(600)
        return 0
    host, _, port_text = str(values["listen"]).rpartition(":")
    port = int(port_text)
    if port and not port_free(host, port):
        busy = (f"Error: Port {port} is already in use. Please free up the port or specify a different port "
                "with --listen-addr.")
        if values.get("non_interactive"):
            raise Exit(1, busy)
        print(f"Port {port} is already in use. Would you like to use port {port + 1} instead? [y/N]", flush=True)
        if sys.stdin.readline().strip().lower() not in ("y", "yes"):
            raise Exit(1, busy)
        port += 1
    return asyncio.run(serve(host, port, key, vtuple(version)))


async def serve(host: str, port: int, key: bytes, version: tuple[int, int, int]) -> int:
    from fake_spacetimedb_server import FakeSpacetimeDB

    rules = (2, 8, 3) if version >= (2, 0, 0) else (1, 12, 0)
    server = FakeSpacetimeDB(databases={}, server_version=rules, tick_ms=50, jwt_key=key)
    url = await server.start(port)
    bound = url.removeprefix("http://")
    line = 264 if version >= (2, 0, 0) else 251  # the log! call's line at each tag
    stamp = datetime.datetime.now(datetime.timezone.utc).strftime("%Y-%m-%dT%H:%M:%S.%fZ")
    print(f"{stamp}  INFO crates/standalone/src/subcommands/start.rs:{line}: Starting SpacetimeDB listening on "
          f"{bound if host in ('127.0.0.1', 'localhost') else bound.replace('127.0.0.1', host)}", flush=True)
    print(f"{stamp}  WARN crates/standalone/src/subcommands/start.rs:{line + 8}: PostgreSQL wire protocol server "
          "disabled", flush=True)
    try:
        await asyncio.Event().wait()
    finally:
        await server.stop()
    return 0


# == entry =============================================================================================
APPLETS = {"spacetime": proxy, "spacetimedb-cli": cli, "spacetimedb-standalone": standalone}


def main(argv: list[str]) -> int:
    exe = Path(argv[0].removeprefix("--exe="))
    args = argv[1:]
    name = exe.name
    if name not in ("spacetimedb-cli", "spacetimedb-standalone"):
        name = os.environ.get("SPACETIMEDB_UPDATE_MULTICALL_APPLET", name)
    log = os.environ.get("FAKE_SPACETIME_LOG")
    if log:
        with open(log, "a") as fh:
            fh.write(json.dumps({"applet": name, "argv": args}) + "\n")
    applet = APPLETS.get(name)
    if applet is None:
        print(f"Error: unknown command name for spacetimedb-update multicall binary: {name}", file=sys.stderr)
        return 1
    try:
        return applet(exe, args)
    except Exit as exc:
        if exc.message:
            print(exc.message, file=sys.stderr)
        return exc.code


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
