"""Serve one deliberately broken system under test by hand, to watch the suite catch it.

    python -m tests.conformance.broken replay_off --port 21810 --folder /tmp/broken
    vgw-conformance run --config /tmp/broken/conformance.toml     # in another terminal

The gateway is built with that one defect (this package's modules) on a fresh SQLite store in
FOLDER, the suite's client and key are registered in it, FOLDER/conformance.toml is written for
it, and it serves on 127.0.0.1:PORT until Ctrl-C. It prints the defect and the tests that must
fail; tests/conformance/test_broken_systems.py holds each module to its FAILS.
"""

from __future__ import annotations

import argparse
import contextlib
import importlib
import signal
import sys
import threading
from pathlib import Path

from tests.conformance.broken import SERVER_SYSTEMS


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m tests.conformance.broken",
                                     description="Serve a broken system under test for vgw-conformance.")
    parser.add_argument("system", choices=SERVER_SYSTEMS)
    parser.add_argument("--port", type=int, required=True, help="port on 127.0.0.1")
    parser.add_argument("--folder", type=Path, required=True,
                        help="its store, the suite's key, conformance.toml and the report go here")
    args = parser.parse_args(argv)

    from gateway import create_app, store
    from tests.conformance.support import InProcessGateway, SuiteKey, make_gateway_app, write_config

    broken = importlib.import_module(f"tests.conformance.broken.{args.system}")
    folder = args.folder.resolve()
    folder.mkdir(parents=True, exist_ok=True)
    template = folder / "template.sqlite3"
    template.unlink(missing_ok=True)
    migrating = create_app({"TESTING": True, "DATABASE_URL": f"sqlite:///{template}",
                            "KEYS_DIR": str(folder / "template-keys")})
    store.upgrade(migrating)
    migrating.extensions["store.engine"].dispose()
    key = SuiteKey.make(folder / "suite-keys")
    stop = threading.Event()
    for number in (signal.SIGINT, signal.SIGTERM):  # also when started in the background (SIGINT ignored)
        signal.signal(number, lambda *_: stop.set())
    with getattr(broken, "patch", contextlib.nullcontext)():
        (folder / "gateway" / "gateway.sqlite3").unlink(missing_ok=True)
        app = make_gateway_app(folder / "gateway", template, key)
        system = InProcessGateway(app, broken.build(app), port=args.port)
        config = write_config(folder, system.url, key)
        print(f"broken system {args.system}: {broken.DEFECT}", flush=True)
        print(f"the tests that must fail: {', '.join(sorted(broken.FAILS))}", flush=True)
        print(f"serving on {system.url}; run: vgw-conformance run --config {config}", flush=True)
        try:
            stop.wait()
        finally:
            system.stop()
            app.extensions["store.engine"].dispose()
    return 0


if __name__ == "__main__":
    sys.exit(main())
