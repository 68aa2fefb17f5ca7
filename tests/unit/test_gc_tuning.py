"""The collector is kept off what a process built at start (issue 14)."""

import gc

from gateway.cli import gunicorn_config


def test_gunicorn_workers_freeze_what_they_built():
    gc.unfreeze()  # an in-process `vgw sync run` of another test may have frozen this process
    assert gc.get_freeze_count() == 0
    try:
        gunicorn_config.post_worker_init(worker=None)
        assert gc.get_freeze_count() > 1000  # this test process's modules at least
    finally:
        gc.unfreeze()
    assert gc.get_freeze_count() == 0
