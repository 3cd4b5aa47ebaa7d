"""`pa-agent serve`: the HTTPS API on a socket we bind ourselves (so port 0 can be reported), until SIGTERM."""

from __future__ import annotations

import asyncio
import contextlib
import fcntl
import json
import logging
import logging.handlers
import os
import signal
import socket
import sqlite3
import ssl
import sys
from collections.abc import Iterator

import uvicorn

from pa_console.agent.app import create_app
from pa_console.agent.connections import (
    TLS_HANDSHAKE_TIMEOUT_S,
    ConnectionGuard,
    connection_budget,
    guarded_protocol,
    raise_fd_limit,
)
from pa_console.agent.identity import load_identity
from pa_console.agent.log_flood import RepeatLimit
from pa_console.agent.malloc import tune_for_bulk_transfer
from pa_console.agent.paths import DataDir
from pa_console.agent.runtime import AgentRuntime
from pa_console.agent.sd_notify import notify, stderr_is_journal, watchdog_interval_s, watchdog_pings
from pa_console.agent.services import install_services
from pa_console.agent.store.db import Database, StoreError, store_problem

log = logging.getLogger(__name__)

# uvloop, with its double close of a failed connection's descriptor prevented (agent/event_loop.py).
EVENT_LOOP = "pa_console.agent.event_loop:new_loop"

LOG_FORMAT = "%(asctime)s %(levelname)s %(name)s: %(message)s"
LOG_MAX_BYTES = 10 * 1024 * 1024  # agent.log plus 5 older files: at most 60 MB
LOG_BACKUPS = 5


def _configure_logging(data_dir: DataDir, level: str) -> None:
    """When stderr is the journal (under systemd), stderr only: the journal timestamps and rotates it. Elsewhere
    stderr and DATA_DIR/agent.log, rotated."""
    root = logging.getLogger()
    root.setLevel(level.upper())
    # The log names peers, addresses and what went wrong: for this appliance's administrators only (0600, as the
    # rest of DATA_DIR; rotated files keep the mode).
    if data_dir.log.exists():
        os.chmod(data_dir.log, 0o600)
    stream = logging.StreamHandler()
    handlers: list[logging.Handler] = [stream]
    if stderr_is_journal():
        stream.setFormatter(logging.Formatter("%(levelname)s %(name)s: %(message)s"))
    else:
        stream.setFormatter(logging.Formatter(LOG_FORMAT))
        rotating = logging.handlers.RotatingFileHandler(data_dir.log, maxBytes=LOG_MAX_BYTES, backupCount=LOG_BACKUPS)
        rotating.setFormatter(logging.Formatter(LOG_FORMAT))
        handlers.append(rotating)
    limit = RepeatLimit()
    for handler in handlers:
        handler.addFilter(limit)
        root.addHandler(handler)


def bind(host: str, port: int) -> socket.socket:
    family = socket.AF_INET6 if ":" in host else socket.AF_INET
    sock = socket.socket(family, socket.SOCK_STREAM)
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    sock.bind((host, port))
    sock.listen(128)
    sock.set_inheritable(True)
    return sock


class _Server(uvicorn.Server):
    """uvicorn re-raises SIGTERM after a graceful stop (exit status -15); a clean stop should exit 0."""

    status = "serving"
    _watchdog: asyncio.Task[None] | None = None

    @contextlib.contextmanager
    def capture_signals(self) -> Iterator[None]:
        loop = asyncio.get_running_loop()
        for sig in (signal.SIGINT, signal.SIGTERM):
            loop.add_signal_handler(sig, self._stop)
        try:
            yield
        finally:
            for sig in (signal.SIGINT, signal.SIGTERM):
                loop.remove_signal_handler(sig)

    def _stop(self) -> None:
        self.should_exit = True
        notify("STOPPING=1")

    async def startup(self, sockets: list[socket.socket] | None = None) -> None:
        """Serving (lifespan done, sockets accepting): tell systemd (Type=notify), and start the watchdog pings."""
        await self._startup_with_handshake_timeout(sockets)
        if self.should_exit:
            return
        notify(f"READY=1\nSTATUS={self.status}")
        interval = watchdog_interval_s()
        if interval is not None:
            self._watchdog = asyncio.get_running_loop().create_task(watchdog_pings(interval))

    async def shutdown(self, sockets: list[socket.socket] | None = None) -> None:
        if self._watchdog is not None:
            self._watchdog.cancel()
        await super().shutdown(sockets)

    async def _startup_with_handshake_timeout(self, sockets: list[socket.socket] | None = None) -> None:
        """uvicorn's startup for our own sockets, with a TLS handshake timeout (uvicorn offers no option for it;
        asyncio's default of 60 s lets a client that never says hello hold a descriptor for a minute)."""
        assert sockets is not None
        await self.lifespan.startup()
        if self.lifespan.should_exit:
            sys.exit(3)
        config = self.config

        def create_protocol(_loop: asyncio.AbstractEventLoop | None = None) -> asyncio.Protocol:
            protocol: asyncio.Protocol = config.http_protocol_class(  # type: ignore[call-arg]
                config=config, server_state=self.server_state, app_state=self.lifespan.state, _loop=_loop)
            return protocol

        loop = asyncio.get_running_loop()
        self.servers = [await loop.create_server(create_protocol, sock=sock, ssl=config.ssl, backlog=config.backlog,
                                                 ssl_handshake_timeout=TLS_HANDSHAKE_TIMEOUT_S)
                        for sock in sockets]
        self.started = True


# AEAD only (issue 14: testssl found CBC suites and LUCKY13): TLS 1.3's suites are all AEAD; for TLS 1.2, ECDHE with
# AES-GCM or ChaCha20-Poly1305 (forward secrecy; our keys are ECDSA P-256).
TLS12_CIPHERS = "ECDHE+AESGCM:ECDHE+CHACHA20"


def harden_tls(ctx: ssl.SSLContext) -> None:
    ctx.minimum_version = ssl.TLSVersion.TLSv1_2
    ctx.set_ciphers(TLS12_CIPHERS)
    ctx.options |= ssl.OP_NO_COMPRESSION | ssl.OP_CIPHER_SERVER_PREFERENCE | ssl.OP_NO_RENEGOTIATION


def open_store(data_dir: DataDir) -> Database:
    """The store, or one sentence that says what to do when it is damaged (never a raw sqlite3 traceback)."""
    db = Database(data_dir.db)  # StoreError with a sentence when SQLite cannot open it
    try:
        conn = db.connect()
        conn.execute("SELECT count(*) FROM sqlite_master").fetchone()
        conn.execute("SELECT key FROM local LIMIT 1").fetchall()
        # Recording files no row references (a write or a sync cut short by a crash) go now; recent ones stay.
        db.blobs.collect(conn)
        return db
    except sqlite3.DatabaseError as exc:
        db.close()
        raise StoreError(store_problem(data_dir.db, exc)) from exc


def format_address(host: str, port: int) -> str:
    return f"[{host}]:{port}" if ":" in host else f"{host}:{port}"


def hold_data_dir(data_dir: DataDir) -> int:
    """One `serve` per DATA_DIR: a second one ran beside the first on the same store (two failover monitors, two
    sync engines, both after the shared address) and, when stopped, removed the first one's listen.json. The lock
    is the kernel's (flock): a killed agent never leaves it behind. Returns the descriptor, kept open until exit."""
    fd = os.open(data_dir.serve_lock, os.O_RDWR | os.O_CREAT, 0o600)
    try:
        fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
    except BlockingIOError:
        other = os.read(fd, 32).decode(errors="replace").strip() or "unknown"
        os.close(fd)
        from pa_console.agent.cli import CliError

        raise CliError(f"Another pa-agent (pid {other}) already serves {data_dir.root}; stop it first (e.g. "
                       "'systemctl stop pa-agent'), or give the DATA_DIR of another appliance.") from None
    os.ftruncate(fd, 0)
    os.write(fd, f"{os.getpid()}\n".encode())
    return fd


def serve(data_dir: DataDir, host: str, port: int, log_level: str = "info") -> int:
    # Everything the agent creates in DATA_DIR (log, split-brain copies, staging, listen.json) is its own: 0600.
    os.umask(0o077)
    identity = load_identity(data_dir)
    _configure_logging(data_dir, log_level)
    tune_for_bulk_transfer()
    try:
        sock = bind(host, port)
    except OSError as exc:
        from pa_console.agent.cli import CliError

        raise CliError(f"Cannot listen on {format_address(host, port)}: {exc.strerror}; "
                       "choose another address or port.") from exc
    try:
        hold_data_dir(data_dir)  # after the bind: a port in use is said as such, whoever holds it
    except BaseException:
        sock.close()
        raise
    actual_port = sock.getsockname()[1]
    listen = format_address(host, actual_port)
    db = open_store(data_dir)
    runtime = AgentRuntime(identity, db)
    runtime.listen = listen
    install_services(runtime)
    app = create_app(runtime)
    fd_limit = raise_fd_limit()
    guard = ConnectionGuard(connection_budget(fd_limit))
    config = uvicorn.Config(app, ssl_certfile=str(data_dir.cert), ssl_keyfile=str(data_dir.key), loop=EVENT_LOOP,
                            ssl_ciphers=TLS12_CIPHERS, http=guarded_protocol(guard),
                            # No WebSocket endpoints: an upgrade would hand the connection to a protocol the
                            # connection guard does not see.
                            ws="none",
                            log_config=None, access_log=False, lifespan="on",
                            # Event streams never end by themselves; don't let them hold up a stop.
                            timeout_graceful_shutdown=3)
    try:
        config.load()
    except ssl.SSLError as exc:
        db.close()
        from pa_console.agent.cli import CliError

        raise CliError(f"The TLS key or certificate in {data_dir.cert.parent} cannot be loaded ({exc.reason or exc}); "
                       "restore DATA_DIR from a backup copy, or make a new identity in an empty folder with "
                       "'pa-agent init'.") from exc
    assert config.ssl is not None
    harden_tls(config.ssl)
    log.info("up to %d connections (open files limit %d)", guard.max_connections, fd_limit)
    server = _Server(config)
    server.status = f"serving https://{listen}"
    tmp = data_dir.listen.with_suffix(".tmp")
    tmp.write_text(json.dumps({"listen": listen, "pid": os.getpid()}))
    os.replace(tmp, data_dir.listen)
    log.info("pa-agent %s serving https://%s", identity.name, listen)
    try:
        server.run(sockets=[sock])
    finally:
        data_dir.listen.unlink(missing_ok=True)
        db.close()
        log.info("pa-agent %s stopped", identity.name)
    return 0
