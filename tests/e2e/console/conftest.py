"""Harness of the console's browser tests: a real gateway (``vgw serve``, gunicorn) on
127.0.0.1 over the test's store (SQLite and PostgreSQL), and Playwright driving Debian's
chromium (/usr/bin/chromium, never a downloaded browser). Every page's console errors and
uncaught exceptions are collected; a test fails if there is one. Screenshots go to
build/screenshots/console/ (git-ignored): look at them.
"""

from __future__ import annotations

import os
import random
import shutil
import signal
import socket
import subprocess
import sys
import time
from pathlib import Path

import pytest
import requests

from gateway.settings import SETTINGS

CHROMIUM = os.environ.get("VGW_CHROMIUM", "/usr/bin/chromium")
SHOTS = Path(__file__).resolve().parents[3] / "build" / "screenshots" / "console"


def free_port() -> int:
    """A free port on 127.0.0.1: in VGW_TEST_PORTS ("21000-21999") when set (a shared machine
    where each worker has its range), else one the system picks."""
    low, _sep, high = os.environ.get("VGW_TEST_PORTS", "").partition("-")
    candidates = list(range(int(low), int(high) + 1)) if low and high else [0]
    random.shuffle(candidates)  # two workers probing at once rarely pick the same free port
    for port in candidates:
        with socket.socket() as s:
            try:
                s.bind(("127.0.0.1", port))
            except OSError:
                continue
            return s.getsockname()[1]
    raise RuntimeError(f"no free port in VGW_TEST_PORTS={os.environ['VGW_TEST_PORTS']}")


def child_env(app, **settings) -> dict[str, str]:
    """A ``vgw`` child with exactly the test app's settings (plus ``settings``)."""
    env = {k: v for k, v in os.environ.items() if not k.startswith("GATEWAY_")}
    for setting in SETTINGS:
        value = settings.get(setting.name, app.config.get(setting.name))
        if value is None:
            continue
        env[f"GATEWAY_{setting.name}"] = ("true" if value else "false") if isinstance(value, bool) else str(value)
    env["PYTHONUNBUFFERED"] = "1"
    return env


class Process:
    """A ``vgw`` command in a process of its own, stopped with SIGTERM (its whole group)."""

    def __init__(self, args: list[str], env: dict[str, str], log: Path):
        self.log = log
        self._out = log.open("wb")
        self.proc = subprocess.Popen([sys.executable, "-m", "gateway.cli", *args], env=env,
                                     stdout=self._out, stderr=subprocess.STDOUT,
                                     stdin=subprocess.DEVNULL, start_new_session=True)

    def stop(self) -> None:
        if self.proc.poll() is None:
            os.killpg(self.proc.pid, signal.SIGTERM)
            try:
                self.proc.wait(timeout=15)
            except subprocess.TimeoutExpired:
                os.killpg(self.proc.pid, signal.SIGKILL)
                self.proc.wait(timeout=5)
        self._out.close()


@pytest.fixture
def console_app(store_app, tmp_path):
    """The store app with the settings every process of the test shares."""
    store_app.config.update(SYNC_RETRY_ATTEMPTS=1, SYNC_RETRY_BACKOFF_SECONDS=0,
                            SYNC_PAUSE_AFTER_FAILURES=2, SCHEDULER_RELOAD_SECONDS=1,
                            ALERTS_EVALUATE_SECONDS=1, DEV_TOKENS=False)
    return store_app


@pytest.fixture
def gateway_url(console_app, tmp_path):
    port = free_port()
    env = child_env(console_app)
    server = Process(["serve", "--host", "127.0.0.1", "--port", str(port), "--workers", "1",
                      "--no-access-log"], env, tmp_path / "gateway.log")
    url = f"http://127.0.0.1:{port}"
    deadline = time.monotonic() + 30
    while True:
        try:
            if requests.get(url + "/console/login", timeout=5).status_code == 200:
                break
        except requests.RequestException:  # not listening yet, or the worker still booting
            pass
        if server.proc.poll() is not None or time.monotonic() > deadline:
            server.stop()
            raise AssertionError("the gateway did not start:\n" + server.log.read_text(errors="replace"))
        time.sleep(0.2)
    yield url
    server.stop()


@pytest.fixture
def scheduler(console_app, tmp_path):
    """``vgw scheduler`` (sources on their schedules, alert rules every second)."""
    started = []

    def start() -> Process:
        proc = Process(["scheduler"], child_env(console_app), tmp_path / "scheduler.log")
        started.append(proc)
        return proc

    yield start
    for proc in started:
        proc.stop()


@pytest.fixture(scope="session")
def browser():
    if not shutil.which(CHROMIUM):
        pytest.fail(f"no chromium at {CHROMIUM} (scripts/system-deps.sh installs it)")
    from playwright.sync_api import sync_playwright

    with sync_playwright() as p:
        chromium = p.chromium.launch(executable_path=CHROMIUM, args=["--no-sandbox"])
        yield chromium
        chromium.close()


class Pages:
    """New browser contexts (one per person) whose pages record console errors."""

    def __init__(self, browser, base_url: str, name: str):
        self.browser, self.base_url, self.name = browser, base_url, name
        self.errors: list[str] = []
        self.contexts = []

    def new(self, *, mobile: bool = False):
        options = {"base_url": self.base_url, "locale": "zh-CN", "timezone_id": "Asia/Shanghai"}
        if mobile:
            options.update(viewport={"width": 390, "height": 844}, device_scale_factor=2,
                           is_mobile=True, has_touch=True)
        else:
            options.update(viewport={"width": 1280, "height": 900})
        context = self.browser.new_context(**options)
        self.contexts.append(context)
        page = context.new_page()
        page.on("console", lambda m: self.errors.append(f"{page.url}: {m.text}")
                if m.type == "error" else None)
        page.on("pageerror", lambda e: self.errors.append(f"{page.url}: {e}"))
        page.on("dialog", lambda d: d.accept())
        return page

    def shot(self, page, label: str) -> Path:
        SHOTS.mkdir(parents=True, exist_ok=True)
        path = SHOTS / f"{self.name}-{label}.png"
        page.screenshot(path=str(path), full_page=True)
        return path

    def close(self) -> None:
        for context in self.contexts:
            context.close()


@pytest.fixture
def pages(browser, gateway_url, request, store_app):
    backend = "pg" if store_app.config["DATABASE_URL"].startswith("postgresql") else "sqlite"
    recorder = Pages(browser, gateway_url, f"{request.node.originalname}-{backend}")
    yield recorder
    recorder.close()
