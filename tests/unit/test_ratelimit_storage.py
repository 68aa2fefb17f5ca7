"""The SQLite rate-limit storage (gateway/ratelimit_storage.py) as ``limits`` uses it: fixed
and moving windows, shared by two storages on one file and by forked processes."""

from __future__ import annotations

import multiprocessing
import time

from limits import parse
from limits.storage import storage_from_string
from limits.strategies import FixedWindowRateLimiter, MovingWindowRateLimiter

from gateway import ratelimit_storage


def test_it_registers_with_limits_and_counts_a_fixed_window(tmp_path):
    uri = ratelimit_storage.uri_for(tmp_path / "limits.db")
    assert uri.startswith("vgw+sqlite:///")
    one, other = storage_from_string(uri), storage_from_string(uri)  # two processes' views
    assert isinstance(one, ratelimit_storage.SQLiteStorage) and one.check()
    limit = parse("3 per minute")
    a, b = FixedWindowRateLimiter(one), FixedWindowRateLimiter(other)
    assert [a.hit(limit, "k"), b.hit(limit, "k"), a.hit(limit, "k"), b.hit(limit, "k")] == \
        [True, True, True, False]
    assert a.hit(limit, "another key")
    assert b.get_window_stats(limit, "k").remaining == 0
    assert one.get_expiry(f"LIMITER/k/{limit.amount}/{limit.multiples}/{limit.GRANULARITY.name}") \
        > time.time()
    one.clear("LIMITER/k/3/1/minute")
    assert b.hit(limit, "k")
    assert one.reset() >= 1 and a.hit(limit, "k")


def test_a_counter_expires(tmp_path):
    storage = storage_from_string(ratelimit_storage.uri_for(tmp_path / "limits.db"))
    assert storage.incr("k", 1) == 1 and storage.incr("k", 1) == 2
    time.sleep(1.1)
    assert storage.get("k") == 0 and storage.incr("k", 1) == 1


def test_the_moving_window_of_the_console_login(tmp_path):
    uri = ratelimit_storage.uri_for(tmp_path / "limits.db")
    a = MovingWindowRateLimiter(storage_from_string(uri))
    b = MovingWindowRateLimiter(storage_from_string(uri))
    limit = parse("2 per 1 second")
    assert [a.hit(limit, "login"), b.hit(limit, "login"), a.hit(limit, "login")] == [True, True, False]
    assert b.get_window_stats(limit, "login").remaining == 0
    time.sleep(1.1)
    assert b.hit(limit, "login")


def _hit_many(uri: str, times: int, out) -> None:
    limiter = FixedWindowRateLimiter(storage_from_string(uri))
    out.put(sum(limiter.hit(parse("50 per minute"), "shared") for _ in range(times)))


def test_forked_processes_share_one_count(tmp_path):
    uri = ratelimit_storage.uri_for(tmp_path / "limits.db")
    storage_from_string(uri).incr("warm-up", 60)  # a connection opened before the fork
    context = multiprocessing.get_context("fork")
    out = context.Queue()
    workers = [context.Process(target=_hit_many, args=(uri, 40, out)) for _ in range(3)]
    for process in workers:
        process.start()
    for process in workers:
        process.join(60)
    assert sum(out.get(timeout=10) for _ in workers) == 50


def test_the_default_storage_lies_beside_a_sqlite_store_else_in_the_instance_folder(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    instance = tmp_path / "instance"

    def uri(database_url: str, configured: str = "") -> str:
        return ratelimit_storage.storage_uri({"RATELIMIT_STORAGE_URI": configured,
                                              "DATABASE_URL": database_url}, instance)

    beside = f"vgw+sqlite://{tmp_path / 'data' / 'store-ratelimits.sqlite3'}"
    assert uri(f"sqlite:///{tmp_path}/data/store.sqlite3") == beside       # absolute
    assert uri("sqlite:///data/store.sqlite3") == beside                    # relative to here
    assert uri("sqlite:///data/store.sqlite3?timeout=30") == beside         # with a query
    assert uri("sqlite+pysqlite:///data/store.sqlite3") == beside           # with a driver
    in_instance = f"vgw+sqlite://{instance / 'ratelimits.sqlite3'}"
    for no_file in ("sqlite://", "sqlite:///:memory:", "postgresql+psycopg://u@127.0.0.1/x",
                    "not a url"):
        assert uri(no_file) == in_instance, no_file
    assert uri("sqlite:///data/store.sqlite3", "redis://127.0.0.1:6379/5") == "redis://127.0.0.1:6379/5"


def test_the_app_shows_the_storage_it_uses(tmp_path):
    from gateway import create_app

    app = create_app({"DATABASE_URL": f"sqlite:///{tmp_path}/store.sqlite3", "KEYS_DIR": str(tmp_path)})
    assert app.config["RATELIMIT_STORAGE_URI"] == f"vgw+sqlite://{tmp_path / 'store-ratelimits.sqlite3'}"
    shown = app.test_cli_runner().invoke(args=["config", "show"]).output
    assert f"RATELIMIT_STORAGE_URI = 'vgw+sqlite://{tmp_path / 'store-ratelimits.sqlite3'}'" in shown
