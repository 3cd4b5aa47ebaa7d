"""Sync benchmarks (issue #7): first full sync against rsync over ssh and curl, rows, incremental, resume, memory.

    python -m bench.sync_bench                # the full run: 1 GiB of recordings + 100k sessions, 1M-row site
    python -m bench.sync_bench --quick        # a small smoke run (the test suite runs this)
    python -m bench.sync_bench --dir /dev/shm # put the appliances' data on tmpfs (measures software, not the disk)
    python -m bench.sync_bench --part full    # only the first full sync (with its references, RSS) and the resume
    python -m bench.sync_bench --part rows --compare /tmp/before --rounds 3
                                              # first syncs of the 1M-row site by this code and by another checkout
                                              # (e.g. `git worktree add /tmp/before main`), alternating; medians

Each measure is taken side by side with its reference in the same run, and reported as a ratio, because shared
machines are noisy."""

from __future__ import annotations

import argparse
import contextlib
import dataclasses
import json
import os
import resource
import shutil
import signal
import sqlite3
import statistics
import subprocess
import tempfile
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import tests.harness
from bench.common import (
    REPO,
    Table,
    establish_pair,
    machine,
    peak_rss_mb,
    seed,
    start_and_link,
    wait_sync,
    wait_until,
)
from bench.ssh_reference import RsyncOverSsh
from pa_console.agent.store.blobs import blob_root
from pa_console.agent.store.db import Database
from tests.harness import RunningAgent, init_agent

MB = 1_000_000


def peer_token(backup_dir: Path) -> str:
    with sqlite3.connect(backup_dir / "site.db") as conn:
        row = conn.execute("SELECT value FROM local WHERE key = 'relationship'").fetchone()
    return str(json.loads(row[0])["peer_token"])


def export_recordings(db: Path, out: Path) -> int:
    """The same bytes as files (one per recording), for rsync to move."""
    out.mkdir(parents=True)
    total = 0
    with sqlite3.connect(db) as conn:
        rows = conn.execute("SELECT id, sha256 FROM recordings").fetchall()
    for rid, sha in rows:
        shutil.copyfile(blob_root(db) / "by-sha256" / sha, out / rid)
        total += (out / rid).stat().st_size
    return total


def curl_fetch(primary: Any, token: str, items: list[list[Any]], target: Path) -> tuple[float, int]:
    """curl pulling the same recordings from the same agent's bulk endpoint into a file."""
    body = target.with_suffix(".json")
    body.write_text(json.dumps({"items": items}))
    t0 = time.perf_counter()
    subprocess.run(["curl", "-sS", "--fail", "--cacert", str(primary.data_dir / "tls" / "cert.pem"),
                    "-H", f"Authorization: Bearer {token}", "-H", "Content-Type: application/json",
                    "--data-binary", f"@{body}", "-o", str(target),
                    f"{primary.url}/api/v1/peer/blobs"], check=True)
    return time.perf_counter() - t0, target.stat().st_size


def phases(report: dict[str, Any]) -> str:
    return ", ".join(f"{k} {v:.1f} s" for k, v in (report.get("phases_s") or {}).items())


def full_sync(base: Path, recordings: int, rec_bytes: int, sessions: int, table: Table) -> None:
    primary, backup = establish_pair(base)
    seed(primary, recordings, rec_bytes)
    seed(primary, sessions, 0)
    start_and_link(primary, backup)
    total = recordings * rec_bytes
    report = wait_sync(backup)
    assert report["status"] == "ok", report
    ours = report["bytes_moved"] / report["duration_s"] / MB
    rss = {a.name: peak_rss_mb(a.proc.pid) for a in (primary, backup) if a.proc}

    token = peer_token(backup.data_dir)
    with sqlite3.connect(primary.data_dir / "site.db") as conn:
        items = [[r[0], 0] for r in conn.execute("SELECT id FROM recordings")]
    curl_s, curl_bytes = curl_fetch(primary, token, items, base / "curl.out")
    curl = curl_bytes / curl_s / MB

    src = base / "rsync-src"
    export_recordings(primary.data_dir / "site.db", src)
    rsync = RsyncOverSsh(base / "ssh").run(src, base / "rsync-dst")

    table.add("first full sync", f"{total / 2**20:.0f} MiB + {sessions} rows", f"{ours:.0f} MB/s",
              f"{report['duration_s']:.2f} s", phases(report))
    table.add("  curl, same agent, same bytes", f"{curl_bytes / 2**20:.0f} MiB", f"{curl:.0f} MB/s",
              f"{curl_s:.2f} s", f"ours/curl = {ours / curl:.2f} (target >= 0.9)")
    if rsync is not None:
        table.add("  rsync over ssh, same bytes", f"{total / 2**20:.0f} MiB", f"{total / rsync / MB:.0f} MB/s",
                  f"{rsync:.2f} s", f"ours/rsync = {ours / (total / rsync / MB):.2f} (target >= 1.5)")
    else:
        table.add("  rsync over ssh", "n/a", "", "", "sshd or rsync not installed")
    table.add("peak RSS during the sync", "", "", "",
              ", ".join(f"{k} {v:.0f} MB" for k, v in rss.items()) + " (target < 150 MB)")

    # Resume: kill the backup at 50 % of a sync of the same amount again, restart, measure what moves again.
    seed(primary, recordings, rec_bytes)

    before = backup.health().get("last_sync")

    def half_or_done() -> str | None:
        h = backup.health()
        prog = h.get("sync_progress")
        if prog and prog["phase"] == "recordings" and prog["bytes_total"] and \
                prog["bytes_done"] >= 0.5 * prog["bytes_total"]:
            return "half"
        if h["last_sync_status"] != "running" and h.get("last_sync") != before:
            return "done"
        return None

    assert backup.request("POST", "/api/v1/failover/sync").status_code == 202
    reached = wait_until(half_or_done, timeout=600, interval=0.01, what="50 %")
    if reached == "done":
        table.add("resumed sync after kill at 50 %", "", "", "", "n/a: the sync ended before it could be killed")
    else:
        assert backup.proc is not None
        backup.proc.send_signal(signal.SIGKILL)
        backup.proc.wait()
        backup.start()
        report = wait_sync(backup)
        assert report["status"] == "ok" and report["resumed"], report
        again = report["bytes_moved"] - 0.5 * total
        table.add("resumed sync after kill at 50 %", f"{total / 2**20:.0f} MiB", "",
                  f"{report['duration_s']:.2f} s",
                  f"moved again {max(again, 0) / total:.1%} of the total (target < 5 %)")
    primary.kill()
    backup.kill()


def rows_and_incremental(base: Path, rows: int, table: Table) -> None:
    primary, backup = establish_pair(base)
    seed(primary, rows, 0)
    start_and_link(primary, backup)
    report = wait_sync(backup, interval=0.25)
    assert report["status"] == "ok", report
    table.add("session rows alone", f"{rows} rows", f"{report['rows_moved'] / report['duration_s']:.0f} rows/s",
              f"{report['duration_s']:.2f} s", f"target >= 300k rows/s; {phases(report)}")
    seed(primary, 1, 0)
    t0 = time.perf_counter()
    report = wait_sync(backup)
    wall = time.perf_counter() - t0
    assert report["status"] == "ok", report
    table.add("incremental, 1 changed session", f"site of {rows} sessions", f"{report['bytes_moved']} bytes",
              f"{report['duration_s']:.3f} s (wall {wall:.2f} s)", "target < 0.2 s, bytes ~ the change")
    primary.kill()
    backup.kill()


def children_cpu_s() -> float:
    """User + system CPU seconds of this process's finished children (curl)."""
    usage = resource.getrusage(resource.RUSAGE_CHILDREN)
    return usage.ru_utime + usage.ru_stime


def cpu_s(pid: int) -> float:
    """User + system CPU seconds of a process so far."""
    fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


@contextlib.contextmanager
def agents_from(code: Path) -> Iterator[None]:
    """Agents started meanwhile run the code of another checkout (`python -m` imports from its working directory)."""
    before = tests.harness.REPO
    tests.harness.REPO = code
    try:
        yield
    finally:
        tests.harness.REPO = before


def rows_compare(base: Path, rows: int, rounds: int, other: Path, table: Table) -> None:
    """First syncs of the same seeded site, by this code and by another checkout, alternating (a shared machine's
    load then weighs on both alike); medians per version, with each agent's CPU time during the sync."""
    # The other checkout makes the site (usually the older schema: an older agent cannot open a newer store), and
    # this code's copy of it is migrated once, here, so that no migration (nor the disk's write-back of one) falls
    # into a timed sync.
    with agents_from(other):
        template, _ = establish_pair(base / "template")
    seed(template, rows, 0, other)
    sites = {"other": template.data_dir, "this": base / "template-this"}
    shutil.copytree(template.data_dir, sites["this"])
    Database(sites["this"] / "site.db").close()
    runs: dict[str, list[dict[str, float]]] = {"this": [], "other": []}
    for n in range(rounds):
        for name, code in (("this", REPO), ("other", other)):
            where = base / f"{name}-{n}"
            shutil.copytree(sites[name], where / "primary")
            shutil.copy(base / "template" / "key", where / "key")
            os.sync()  # the copy's dirty pages written back before the sync is timed, for both versions alike
            with agents_from(code):
                primary = dataclasses.replace(template, data_dir=where / "primary", proc=None)
                backup = init_agent(where, "backup", where / "key")
                start_and_link(primary, backup)
            try:
                assert primary.proc is not None and backup.proc is not None
                before = cpu_s(primary.proc.pid), cpu_s(backup.proc.pid)
                report = wait_sync(backup, interval=0.25)
                assert report["status"] == "ok", report
                runs[name].append({"rate": report["rows_moved"] / report["duration_s"], "s": report["duration_s"],
                                   "primary": cpu_s(primary.proc.pid) - before[0],
                                   "backup": cpu_s(backup.proc.pid) - before[1],
                                   **{f"phase {k}": v for k, v in (report.get("phases_s") or {}).items()}})
            finally:
                primary.kill()
                backup.kill()
                shutil.rmtree(where)
    for name, label in (("other", f"session rows alone, {other}"), ("this", "session rows alone, this code")):
        med = {k: statistics.median(r[k] for r in runs[name]) for k in runs[name][0]}
        table.add(label, f"{rows} rows", f"{med['rate']:.0f} rows/s", f"{med['s']:.2f} s",
                  f"median of {rounds}; CPU primary {med['primary']:.2f} s, backup {med['backup']:.2f} s; "
                  f"rows {med.get('phase rows', 0):.2f} s, applying {med.get('phase applying', 0):.2f} s")
    ratios = [t["rate"] / o["rate"] for t, o in zip(runs["this"], runs["other"], strict=True)]
    table.add("  this / other", "", f"{statistics.median(ratios):.2f}x", "",
              f"median of the rounds' ratios ({', '.join(f'{r:.2f}' for r in ratios)}); CPU per round this/other: "
              + ", ".join(f"{t['primary'] + t['backup']:.2f}/{o['primary'] + o['backup']:.2f} s"
                          for t, o in zip(runs["this"], runs["other"], strict=True)))


def _sync_round(primary: RunningAgent, where: Path, key: Path, code: Path) -> dict[str, float]:
    """One first full sync to a fresh backup of `code`'s version; the primary is linked, then unlinked after."""
    with agents_from(code):
        backup = init_agent(where, "backup", key)
        start_and_link(primary, backup)
    try:
        assert primary.proc is not None and backup.proc is not None
        before = cpu_s(primary.proc.pid), cpu_s(backup.proc.pid)
        report = wait_sync(backup)
        assert report["status"] == "ok", report
        result = {"rate": report["bytes_moved"] / report["duration_s"] / MB, "s": report["duration_s"],
                  "primary": cpu_s(primary.proc.pid) - before[0], "backup": cpu_s(backup.proc.pid) - before[1],
                  "rss primary": peak_rss_mb(primary.proc.pid), "rss backup": peak_rss_mb(backup.proc.pid),
                  **{f"phase {k}": v for k, v in (report.get("phases_s") or {}).items()}}
        r = primary.request("DELETE", "/api/v1/failover/relationship")
        assert r.status_code == 200, r.text
        return result
    finally:
        primary.kill()
        backup.kill()
        shutil.rmtree(where / "backup", ignore_errors=True)


def full_rounds(base: Path, recordings: int, rec_bytes: int, sessions: int, rounds: int, other: Path | None,
                table: Table) -> None:
    """The first full sync against curl-to-file and rsync over ssh (and, with `other`, the first full sync by
    another checkout), alternating in each round so that the machine's load weighs on all alike; the medians of
    each round's ratios. Each version syncs from a primary it seeded itself (their stores differ), to a fresh
    backup each round; curl pulls the same recordings from this code's primary, rsync moves them as files."""
    versions = [("this", REPO)] + ([("other", other)] if other is not None else [])
    primaries: dict[str, RunningAgent] = {}
    for name, code in versions:
        with agents_from(code):
            primary, _ = establish_pair(base / name)
        shutil.rmtree(base / name / "backup")
        seed(primary, recordings, rec_bytes, code)
        seed(primary, sessions, 0, code)
        primaries[name] = primary
    src = base / "rsync-src"
    total = export_recordings(primaries["this"].data_dir / "site.db", src)
    with sqlite3.connect(primaries["this"].data_dir / "site.db") as conn:
        items = [[r[0], 0] for r in conn.execute("SELECT id FROM recordings")]
    runs: dict[str, list[dict[str, float]]] = {name: [] for name, _ in versions}
    curl_rates: list[float] = []
    curl_cpu: list[tuple[float, float]] = []  # the primary's and curl's CPU seconds
    rsync_rates: list[float] = []
    for n in range(rounds):
        for name, code in versions:
            runs[name].append(_sync_round(primaries[name], base / name, base / name / "key", code))
        # curl from this code's agent, serving as a primary with a relationship (the peer token is the credential).
        backup = init_agent(base / "this", "backup", base / "this" / "key")
        start_and_link(primaries["this"], backup)
        try:
            token = peer_token(backup.data_dir)
            assert primaries["this"].proc is not None
            before_cpu = cpu_s(primaries["this"].proc.pid), children_cpu_s()
            secs, nbytes = curl_fetch(primaries["this"], token, items, base / "curl.out")
            curl_rates.append(nbytes / secs / MB)
            curl_cpu.append((cpu_s(primaries["this"].proc.pid) - before_cpu[0], children_cpu_s() - before_cpu[1]))
            primaries["this"].request("DELETE", "/api/v1/failover/relationship")
        finally:
            primaries["this"].kill()
            backup.kill()
            shutil.rmtree(base / "this" / "backup", ignore_errors=True)
            (base / "curl.out").unlink(missing_ok=True)
        rsync_s = RsyncOverSsh(base / f"ssh-{n}").run(src, base / "rsync-dst")
        shutil.rmtree(base / "rsync-dst", ignore_errors=True)
        if rsync_s is not None:
            rsync_rates.append(total / rsync_s / MB)
        print(f"round {n + 1}: " + ", ".join(f"{name} {runs[name][-1]['rate']:.0f} MB/s" for name, _ in versions)
              + f", curl {curl_rates[-1]:.0f} MB/s" + (f", rsync {rsync_rates[-1]:.0f} MB/s" if rsync_rates else ""),
              flush=True)
    size = f"{total / 2**20:.0f} MiB + {sessions} rows"
    for name, _ in reversed(versions):
        med = {k: statistics.median(r[k] for r in runs[name]) for k in runs[name][0]}
        label = "first full sync, this code" if name == "this" else f"first full sync, {other}"
        table.add(label, size, f"{med['rate']:.0f} MB/s", f"{med['s']:.2f} s",
                  f"median of {rounds}; CPU primary {med['primary']:.2f} s, backup {med['backup']:.2f} s; "
                  f"peak RSS primary {max(r['rss primary'] for r in runs[name]):.0f} MB, backup "
                  f"{max(r['rss backup'] for r in runs[name]):.0f} MB; "
                  + ", ".join(f"{k[6:]} {v:.2f} s" for k, v in med.items() if k.startswith("phase ")))
        to_curl = statistics.median(r["rate"] / c for r, c in zip(runs[name], curl_rates, strict=True))
        ratios = [f"/curl {to_curl:.2f}x (target >= 0.9)"]
        if rsync_rates:
            to_rsync = statistics.median(r["rate"] / x for r, x in zip(runs[name], rsync_rates, strict=True))
            ratios.append(f"/rsync {to_rsync:.2f}x (target >= 1.5)")
        table.add(f"  {name} / references", "", "", "", "median of the rounds' ratios: " + ", ".join(ratios))
    table.add("  curl, same agent, same bytes", f"{total / 2**20:.0f} MiB", f"{statistics.median(curl_rates):.0f} MB/s",
              "", f"median of {rounds}; CPU primary {statistics.median(c[0] for c in curl_cpu):.2f} s, curl "
                  f"{statistics.median(c[1] for c in curl_cpu):.2f} s")
    if rsync_rates:
        table.add("  rsync over ssh, same bytes", f"{total / 2**20:.0f} MiB",
                  f"{statistics.median(rsync_rates):.0f} MB/s", "", f"median of {rounds}")
    if other is not None:
        ratio = statistics.median(t["rate"] / o["rate"] for t, o in zip(runs["this"], runs["other"], strict=True))
        table.add("  this / other", "", f"{ratio:.2f}x", "", "median of the rounds' ratios")


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--quick", action="store_true", help="small sizes, for a smoke run")
    parser.add_argument("--dir", type=Path, default=None, help="where the appliances keep their data")
    parser.add_argument("--part", choices=("all", "full", "rows"), default="all",
                        help="full: the first full sync with its references and the resume; rows: the 1M-row site")
    parser.add_argument("--compare", type=Path, default=None,
                        help="also time first syncs by this checkout of the code, alternating (rows: with --part "
                             "rows; the full sync: with --part full --rounds N)")
    parser.add_argument("--rounds", type=int, default=None,
                        help="rounds of each version (default 3 with --part rows --compare); with --part full: the "
                             "full sync, curl and rsync alternating N times, median ratios")
    parser.add_argument("--mib", type=int, default=None, help="MiB of recordings for the full part (1 MiB each)")
    args = parser.parse_args()
    recordings, rec_bytes, sessions, rows = (1024, 1 << 20, 100_000, 1_000_000)
    if args.quick:
        recordings, rec_bytes, sessions, rows = (16, 1 << 20, 2000, 5000)
    if args.mib:
        recordings = args.mib
    base = Path(tempfile.mkdtemp(prefix="pa-bench-", dir=args.dir))
    table = Table("Sync", ["what", "size", "rate", "time", "ratio / note"])
    try:
        if args.part in ("all", "full"):
            if args.rounds and args.part == "full":
                other = args.compare.resolve() if args.compare is not None else None
                full_rounds(base / "rounds", recordings, rec_bytes, sessions, args.rounds, other, table)
                shutil.rmtree(base / "rounds", ignore_errors=True)
            full_sync(base / "full", recordings, rec_bytes, sessions, table)
            shutil.rmtree(base / "full", ignore_errors=True)
        if args.part in ("all", "rows"):
            rows_and_incremental(base / "rows", rows, table)
        if args.compare is not None and args.part == "rows":
            rows_compare(base / "compare", rows, args.rounds or 3, args.compare.resolve(), table)
    finally:
        shutil.rmtree(base, ignore_errors=True)
    print(f"Machine: {machine()}; data on {args.dir or tempfile.gettempdir()}; load {os.getloadavg()[0]:.1f}")
    print(table.render())
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
