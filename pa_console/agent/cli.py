"""`pa-agent`: init, serve, info, seed, verify, status."""

from __future__ import annotations

import argparse
import errno
import json
import logging
import shutil
import socket
import sys
from pathlib import Path

from pa_console import __version__
from pa_console.agent.identity import IdentityError, create_identity, load_identity
from pa_console.agent.paths import DataDir
from pa_console.agent.store.db import StoreError
from pa_console.agent.tokens import TokenError


class CliError(Exception):
    """One sentence for the administrator; printed without a traceback."""


def parse_listen(value: str) -> tuple[str, int]:
    host, sep, port_text = value.rpartition(":")
    if not sep or not host or not port_text.isdigit() or not 0 <= int(port_text) <= 65535:
        raise CliError(f"--listen {value!r} is not HOST:PORT with a port from 0 to 65535 (0 picks a free port).")
    return host.strip("[]"), int(port_text)


def cmd_init(args: argparse.Namespace) -> int:
    data_dir = DataDir(Path(args.data_dir))
    identity = create_identity(data_dir, socket.gethostname() if args.name is None else args.name,
                               Path(args.key_file) if args.key_file else None, args.san or [])
    from pa_console.agent.store.db import Database

    Database(data_dir.db).close()
    print(f"Created appliance {identity.name!r} in {data_dir.root}")
    print(f"Certificate SHA-256 fingerprint: {identity.fingerprint}")
    return 0


def cmd_info(args: argparse.Namespace) -> int:
    data_dir = DataDir(Path(args.data_dir))
    identity = load_identity(data_dir, check=False)
    listen = None
    if data_dir.listen.exists():
        listen = json.loads(data_dir.listen.read_text()).get("listen")
    info = {"name": identity.name, "listen": listen, "fingerprint_sha256": identity.fingerprint,
            "cert_path": str(data_dir.cert.resolve()), "api_token": identity.api_token,
            "data_dir": str(data_dir.root.resolve())}
    if args.json:
        print(json.dumps(info, indent=2))
    else:
        for key, value in info.items():
            print(f"{key}: {value}")
    return 0


def cmd_seed(args: argparse.Namespace) -> int:
    from pa_console.agent.seed import seed
    from pa_console.agent.store.db import Database
    from pa_console.agent.store.events import EventLog
    from pa_console.agent.store.site import SiteStore

    data_dir = DataDir(Path(args.data_dir))
    load_identity(data_dir)
    check_seed_fits(data_dir, args.sessions, args.recording_bytes)
    db = Database(data_dir.db)
    try:
        seed(SiteStore(db), EventLog(db), args.sessions, args.recording_bytes)
    finally:
        db.close()
    print(f"Added {args.sessions} sessions" + (f" with recordings of {args.recording_bytes} bytes each"
                                               if args.recording_bytes else ""))
    return 0


SEED_MAX_SESSIONS = 10_000_000
SEED_ROW_BYTES = 1024  # about what a session row, its index entries and its change record take


def check_seed_fits(data_dir: DataDir, sessions: int, recording_bytes: int) -> None:
    """Refuse, before writing anything, what would fill the disk: --sessions 10**20 wrote 1.3 GB in ten minutes and
    would have gone on until the disk was full."""
    if sessions > SEED_MAX_SESSIONS:
        raise CliError(f"--sessions {sessions} is more than {SEED_MAX_SESSIONS:,} demo sessions; give fewer.")
    need = sessions * (recording_bytes + SEED_ROW_BYTES)
    free = shutil.disk_usage(data_dir.root).free
    if need > free // 2:
        raise CliError(f"{sessions} sessions with recordings of {recording_bytes} bytes need about "
                       f"{need / 1e9:.1f} GB, more than half the {free / 1e9:.1f} GB free in {data_dir.root}; "
                       "give fewer sessions or smaller recordings.")


def cmd_serve(args: argparse.Namespace) -> int:
    from pa_console.agent.server import serve

    host, port = parse_listen(args.listen)
    return serve(DataDir(Path(args.data_dir)), host, port, args.log_level)


def cmd_verify(args: argparse.Namespace) -> int:
    """The scrub (issue 14): exit 1 when something is damaged; kept apart from the other commands."""
    from pa_console.agent.scrub.command import run

    return run(DataDir(Path(args.data_dir)).db, args.json)


def cmd_status(args: argparse.Namespace) -> int:
    from pa_console.agent.status import status

    for line in status(load_identity(DataDir(Path(args.data_dir)), check=False)):
        print(line)
    return 0


def add_status_parser(sub: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    p = sub.add_parser("status", help="print the role, peer, last sync and countdown")
    p.add_argument("data_dir", metavar="DATA_DIR")
    p.set_defaults(func=cmd_status)


def cmd_token(args: argparse.Namespace) -> int:
    from pa_console.agent.tokens import TokenStore

    data_dir = DataDir(Path(args.data_dir))
    load_identity(data_dir)
    store = TokenStore(data_dir.tokens)
    if args.action == "create":
        print(store.create(args.name, args.read_only))  # alone on stdout, once: only its hash is kept
    elif args.action == "revoke":
        store.revoke(args.name)
        print(f"Revoked the token {args.name!r}; a serving agent refuses it from its next request.",
              file=sys.stderr)
    else:
        items = store.all()
        if args.json:
            print(json.dumps([{"name": t.name, "read_only": t.read_only, "created_at": t.created_at} for t in items],
                             indent=2))
        for t in [] if args.json else items:
            print(f"{t.name}\t{'read-only' if t.read_only else 'full'}\t{t.created_at}")
    return 0


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="pa-agent", description="The per-appliance failover agent.")
    parser.add_argument("--version", action="version", version=f"pa-agent {__version__}")
    sub = parser.add_subparsers(dest="command", required=True)

    p = sub.add_parser("init", help="create the appliance's identity in DATA_DIR")
    p.add_argument("data_dir", metavar="DATA_DIR")
    p.add_argument("--name", help="the appliance's name (default: the host name)")
    p.add_argument("--key-file", metavar="FILE", help="take the Inter-Appliance key from FILE")
    p.add_argument("--san", action="append", metavar="NAME_OR_IP",
                   help="an extra host name or IP for the certificate (repeatable)")
    p.set_defaults(func=cmd_init)

    p = sub.add_parser("serve", help="serve the HTTPS API until SIGTERM/SIGINT")
    p.add_argument("data_dir", metavar="DATA_DIR")
    p.add_argument("--listen", required=True, metavar="HOST:PORT", help="address to listen on; port 0 picks one")
    p.add_argument("--log-level", default="info", choices=["debug", "info", "warning", "error"])
    p.set_defaults(func=cmd_serve)

    p = sub.add_parser("info", help="print the appliance's name, address, fingerprint and token")
    p.add_argument("data_dir", metavar="DATA_DIR")
    p.add_argument("--json", action="store_true", help="print JSON")
    p.set_defaults(func=cmd_info)

    p = sub.add_parser("seed", help="add demo session records and recordings")
    p.add_argument("data_dir", metavar="DATA_DIR")
    p.add_argument("--sessions", type=int, required=True, metavar="N")
    p.add_argument("--recording-bytes", type=int, default=0, metavar="B")
    p.set_defaults(func=cmd_seed)

    p = sub.add_parser("verify", help="re-read every row and recording and check them against their hashes "
                                      "(exit 1 if something is damaged)")
    p.add_argument("data_dir", metavar="DATA_DIR")
    p.add_argument("--json", action="store_true", help="print JSON")
    p.set_defaults(func=cmd_verify)
    add_status_parser(sub)
    p = sub.add_parser("token", help="named API tokens: create, list, revoke (also while the agent serves)")
    tsub = p.add_subparsers(dest="action", required=True)
    t = tsub.add_parser("create", help="make a token and print it once, alone on stdout")
    t.add_argument("data_dir", metavar="DATA_DIR")
    t.add_argument("name", metavar="NAME")
    t.add_argument("--read-only", action="store_true", help="the token may only read (GET)")
    t = tsub.add_parser("list", help="list the named tokens (never the tokens themselves)")
    t.add_argument("data_dir", metavar="DATA_DIR")
    t.add_argument("--json", action="store_true", help="print JSON")
    t = tsub.add_parser("revoke", help="revoke a named token")
    t.add_argument("data_dir", metavar="DATA_DIR")
    t.add_argument("name", metavar="NAME")
    p.set_defaults(func=cmd_token)
    return parser


def main(argv: list[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    if getattr(args, "sessions", 0) < 0 or getattr(args, "recording_bytes", 0) < 0:
        print("pa-agent: --sessions and --recording-bytes must not be negative.", file=sys.stderr)
        return 2
    try:
        return int(args.func(args))
    except (CliError, IdentityError, StoreError, TokenError) as exc:
        print(f"pa-agent: {exc}", file=sys.stderr)
        return 2
    except KeyboardInterrupt:
        return 130
    except OSError as exc:
        logging.getLogger(__name__).debug("os error", exc_info=exc)
        where = f"{exc.strerror or exc}: {exc.filename or ''}".rstrip(": ")
        print(f"pa-agent: {where}; {_OS_HINTS.get(exc.errno or 0, _OS_HINT)}.", file=sys.stderr)
        return 1


# What to do about a file the command could not use (one sentence with the error above).
_OS_HINT = "check that DATA_DIR is the folder 'pa-agent init' made and that this user may read and write it"
_OS_HINTS = {
    errno.EROFS: "DATA_DIR is on a read-only disk; mount it read-write (pa-agent writes its store and log there)",
    errno.EACCES: "this user may not use that file; run pa-agent as the user that owns DATA_DIR",
    errno.EPERM: "this user may not use that file; run pa-agent as the user that owns DATA_DIR",
    errno.ENOSPC: "the disk is full; free space in DATA_DIR's file system and try again",
    errno.ENOENT: "check the path (DATA_DIR is the folder 'pa-agent init' made)",
}
