"""``vgw scheduler`` serves its own /metrics (SCHEDULER_METRICS_PORT): after its runs against
the simulated zyh365 platform, the counts there are the store's; its log lines are JSON
with the source and run id."""

from __future__ import annotations

import json
import socket

import pytest
import requests
from prometheus_client.parser import text_string_to_metric_families

from tests.conftest import known_personal_data
from tests.e2e.sync_support import (add_zyh365_source, child_env, fresh_pg_app, pulled, runs_of,
                                    scalar, schedulers, set_schedule, wait_for_quiet, wait_until)
from tests.simulators.zyh365 import Zyh365Platform, running

pytestmark = [pytest.mark.postgres]

VOLUNTEERS = 200


def _free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


def _sum(text: str, name: str, **labels: str) -> float:
    wanted = set(labels.items())
    return sum(s.value for family in text_string_to_metric_families(text) for s in family.samples
               if s.name == name and wanted <= set(s.labels.items()))


def test_the_scheduler_exposes_what_its_runs_did(tmp_path):
    platform = Zyh365Platform().seed(volunteers=VOLUNTEERS)
    port = _free_port()
    with fresh_pg_app(tmp_path / "keys") as app, running(platform) as url:
        add_zyh365_source(app, "zyh-metrics", url, ["volunteer"], "every 1s")
        env = child_env(app, SCHEDULER_RELOAD_SECONDS=1, SYNC_PAGE_SIZE=80, LOG_FORMAT="json",
                        SCHEDULER_METRICS_PORT=port)
        with schedulers(env, tmp_path) as start:
            process = start()
            wait_until(lambda: pulled(app, "zyh-metrics", "volunteer") == VOLUNTEERS,
                       f"the source to pull {VOLUNTEERS} records", timeout=120, processes=[process])
            set_schedule(app, "zyh-metrics", "")
            wait_for_quiet(app, idle=2, timeout=60, processes=[process])
            text = requests.get(f"http://127.0.0.1:{port}/metrics", timeout=10).text
            other = requests.get(f"http://127.0.0.1:{port}/other", timeout=10)
            assert process.stop() == 0, process.output()[-3000:]

        runs = runs_of(app, "zyh-metrics")
        stored = scalar(app, "SELECT count(*) FROM volunteers")
        assert stored == VOLUNTEERS and runs
        labels = dict(channel="sync_pull", source="zyh-metrics", entity="volunteer")
        assert _sum(text, "vgw_records_total", outcome="created", **labels) == stored
        assert _sum(text, "vgw_records_total", **labels) == sum(r.read for r in runs)
        for status in {r.status for r in runs}:
            assert _sum(text, "vgw_sync_runs_total", source="zyh-metrics", direction="pull",
                        status=status) == sum(r.status == status for r in runs)
        assert _sum(text, "vgw_sync_run_duration_seconds_count", source="zyh-metrics") == len(runs)
        assert other.status_code == 404
        for secret in known_personal_data():
            assert secret not in text

        lines = [json.loads(line) for line in process.output().splitlines() if line.strip()]
        started = [line for line in lines if "started" in line["message"]
                   and line["logger"] == "sync_jobs.engine"]
        assert started and all(line["source"] == "zyh-metrics" and line["run_id"] in
                               {r.id for r in runs} for line in started)
        assert any("serving /metrics" in line["message"] for line in lines)
