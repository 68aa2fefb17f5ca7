"""A real gateway under gunicorn (``vgw serve``) on 127.0.0.1: the ONE helper that starts it.

Used by the benchmarks (push, load) and by the end-to-end tests (tests/e2e/gunicorn_support.py
re-exports it). The server is a real ``python -m gateway.cli serve`` process (gunicorn's
master and its sync workers) on 127.0.0.1, with the settings of ``env`` (``GATEWAY_*``
variables). Workers are found by their PIDs in gunicorn's log, so a caller can SIGKILL one
or read its peak memory; the master is stopped by its own PID.
"""

from __future__ import annotations

import os
import re
import signal
import subprocess
import sys
import time
from pathlib import Path

import requests

ROOT = Path(__file__).resolve().parents[1]


class Gunicorn:
    """``vgw serve --workers N`` with the given environment; output in ``log``.

    :param timeout: gunicorn's worker timeout, seconds (``None``: gunicorn's own default).
    :param keep_alive: seconds an idle keep-alive connection stays open.
    :param port: 0 for any free port (the URL is read from gunicorn's log).
    :param access_log: log every request (off by default: quieter, and faster under load).
    :param ready_seconds: how long to wait for ``/readyz`` (a loaded machine boots slowly).
    """

    def __init__(self, env: dict[str, str], log: Path, *, workers: int = 1,
                 timeout: int | None = 30, keep_alive: int = 5, port: int = 0,
                 access_log: bool = False, cwd: Path = ROOT, ready_seconds: float = 60):
        self.log = log
        args = (f"--timeout {timeout} " if timeout is not None else "") + f"--keep-alive {keep_alive}"
        env = {**env, "GUNICORN_CMD_ARGS": args}
        env.setdefault("PYTHONPATH", str(ROOT))
        command = [sys.executable, "-m", "gateway.cli", "serve", "--host", "127.0.0.1",
                   "--port", str(port), "--workers", str(workers)]
        if not access_log:
            command.append("--no-access-log")
        with log.open("w") as out:
            self.proc = subprocess.Popen(command, cwd=cwd, env=env, stdout=out,
                                         stderr=subprocess.STDOUT)
        try:
            self.url = self._wait_started(workers)
            self.wait_ready(ready_seconds)
        except BaseException:
            self.stop()
            raise

    def output(self) -> str:
        return self.log.read_text(encoding="utf-8", errors="replace")

    def worker_pids(self) -> list[int]:
        """Workers booted so far (those that died included)."""
        return [int(p) for p in re.findall(r"Booting worker with pid: ([0-9]+)", self.output())]

    def live_workers(self) -> list[int]:
        return [pid for pid in self.worker_pids() if Path(f"/proc/{pid}").exists()
                and "zombie" not in Path(f"/proc/{pid}/status").read_text()]

    def peak_rss_mb(self, pid: int) -> float:
        """A worker's peak resident set (VmHWM), MB."""
        for line in Path(f"/proc/{pid}/status").read_text().splitlines():
            if line.startswith("VmHWM:"):
                return int(line.split()[1]) / 1024
        raise RuntimeError(f"no VmHWM for pid {pid}")

    def _wait_started(self, workers: int) -> str:
        deadline = time.monotonic() + 60
        while time.monotonic() < deadline and self.proc.poll() is None:
            url = re.search(r"Listening at: (http://127\.0\.0\.1:[0-9]+)", self.output())
            if url and len(self.worker_pids()) >= workers:
                return url.group(1)
            time.sleep(0.1)
        raise RuntimeError(f"the gateway did not start:\n{self.output()[-3000:]}")

    def wait_ready(self, seconds: float = 60) -> None:
        """Until ``/readyz`` answers 200 (the store answers and is migrated)."""
        deadline = time.monotonic() + seconds
        while time.monotonic() < deadline:
            try:
                if requests.get(self.url + "/readyz", timeout=5).status_code == 200:
                    return
            except requests.RequestException:
                pass
            time.sleep(0.2)
        raise RuntimeError(f"the gateway is not ready:\n{self.output()[-3000:]}")

    def stop(self) -> None:
        """SIGTERM to the master (it stops its workers), SIGKILL if it does not end."""
        if self.proc.poll() is None:
            os.kill(self.proc.pid, signal.SIGTERM)
            try:
                self.proc.wait(timeout=30)
            except subprocess.TimeoutExpired:
                os.kill(self.proc.pid, signal.SIGKILL)
                self.proc.wait(timeout=10)
