"""A real gateway under gunicorn for the hardening end-to-end tests (``vgw serve``).

The server is a real ``python -m gateway.cli serve`` process (gunicorn's master and its sync
workers) on 127.0.0.1 and a free port, on the test app's store and keys (the environment of
:func:`tests.e2e.sync_support.child_env`). Workers are found by their PIDs in gunicorn's
log, so a test can SIGKILL one; the master is stopped by its own PID.
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

ROOT = Path(__file__).resolve().parents[2]


class Gunicorn:
    """``vgw serve --workers N`` with the given environment; output in ``log`` (gunicorn's
    access log too, with ``access_log``); ``port`` 0 = a free one."""

    def __init__(self, env: dict[str, str], log: Path, *, workers: int = 1, timeout: int = 30,
                 access_log: bool = False, port: int = 0):
        self.log = log
        env = {**env, "GUNICORN_CMD_ARGS": f"--timeout {timeout} --keep-alive 5"}
        with log.open("w") as out:
            self.proc = subprocess.Popen(
                [sys.executable, "-m", "gateway.cli", "serve", "--host", "127.0.0.1", "--port",
                 str(port), "--workers", str(workers),
                 "--access-log" if access_log else "--no-access-log"],
                cwd=ROOT, env=env, stdout=out, stderr=subprocess.STDOUT)
        try:
            self.url = self._wait_started(workers)
            self._wait_ready()
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

    def _wait_started(self, workers: int) -> str:
        deadline = time.monotonic() + 60
        while time.monotonic() < deadline and self.proc.poll() is None:
            url = re.search(r"Listening at: (http://127\.0\.0\.1:[0-9]+)", self.output())
            if url and len(self.worker_pids()) >= workers:
                return url.group(1)
            time.sleep(0.1)
        raise RuntimeError(f"the gateway did not start:\n{self.output()[-3000:]}")

    def _wait_ready(self) -> None:
        deadline = time.monotonic() + 60
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
