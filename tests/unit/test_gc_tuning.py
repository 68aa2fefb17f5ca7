"""The collector is kept off what a process built at start (issue 14), and only in a process
of the gateway's own: a test (or any host) that runs ``vgw sync run`` in its own process is
never frozen."""

import gc
import os
import subprocess
import sys

from gateway.cli import gunicorn_config


def test_gunicorn_workers_freeze_what_they_built():
    assert gc.get_freeze_count() == 0
    try:
        gunicorn_config.post_worker_init(worker=None)
        assert gc.get_freeze_count() > 1000  # this test process's modules at least
    finally:
        gc.unfreeze()
    assert gc.get_freeze_count() == 0


def test_sync_run_called_in_process_freezes_nothing(runner):
    gc.unfreeze()
    answer = runner.invoke(args=["sync", "run", "no-such-source"])
    assert answer.exit_code == 1 and "no-such-source" in answer.output
    assert gc.get_freeze_count() == 0  # this pytest process is not frozen


# What the child prints when it ends, however the command exits.
_REPORT = ("import atexit, gc, sys; "
           "atexit.register(lambda: print('frozen', gc.get_freeze_count(), file=sys.stderr)); "
           "import runpy; sys.argv = ['vgw', 'sync', 'run', 'no-such-source']; "
           "runpy.run_module('gateway.cli', run_name='__main__')")


def test_sync_run_as_its_own_command_freezes(app):
    env = {**os.environ, "GATEWAY_DATABASE_URL": app.config["DATABASE_URL"],
           "GATEWAY_KEYS_DIR": app.config["KEYS_DIR"], "GATEWAY_RATELIMIT_STORAGE_URI": "memory://"}
    done = subprocess.run([sys.executable, "-c", _REPORT], env=env, capture_output=True,
                          text=True, timeout=120)
    assert done.returncode == 1, done.stderr  # the source does not exist, as in process
    frozen = [line for line in done.stderr.splitlines() if line.startswith("frozen ")]
    assert frozen and int(frozen[-1].split()[1]) > 1000, done.stderr
