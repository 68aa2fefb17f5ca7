"""Issue 11, finding 2: no copy of a pushed record lies in the store readable.

The check reads the database as someone who got hold of its files would: the SQLite file
and its -wal; on PostgreSQL (after a CHECKPOINT) the database's own files under
``<data_directory>/base/<oid>`` and the WAL segments written during the test. Each file is
searched for the test data's ID and mobile numbers as they are, and every zlib stream found
in it is inflated and searched too (the message log used to keep pushed bodies as plain
zlib chunks: a grep alone would have missed them, an attacker would not).
"""

from __future__ import annotations

import random
import time
import zlib
from pathlib import Path

import orjson
from cryptography.fernet import Fernet
from sqlalchemy import select, text
from sqlalchemy.engine import make_url

from gateway import store
from gateway.cli.pii import rotate_blobs
from gateway.exchange import message_log
from gateway.privacy import Vault
from gateway.store.models import MessageLog
from tests.integration.exchange_push import helpers as h

_ZLIB_HEADERS = (b"\x78\x01", b"\x78\x5e", b"\x78\x9c", b"\x78\xda")


def _inflated(data: bytes) -> list[bytes]:
    """What every zlib stream in ``data`` inflates to, as far as it goes (pieces of a stream
    cut by page boundaries give their first part)."""
    found = []
    for header in _ZLIB_HEADERS:
        start = data.find(header)
        while start >= 0:
            inflater, out = zlib.decompressobj(), []
            try:
                for at in range(start, min(len(data), start + (4 << 20)), 512):
                    out.append(inflater.decompress(data[at:at + 512]))
                    if inflater.eof:
                        break
            except zlib.error:
                pass
            if sum(map(len, out)) > 16:
                found.append(b"".join(out))
            start = data.find(header, start + 1)
    return found


def _leaks(paths: list[Path], secrets: list[str]) -> list[str]:
    needles = [s.encode() for s in secrets]
    leaks = []
    for path in paths:
        try:
            data = path.read_bytes()
        except (FileNotFoundError, PermissionError):
            continue
        for piece in [data, *_inflated(data)]:
            leaks.extend(f"{path.name}: {n[:3].decode()}…" for n in needles if n in piece)
    return sorted(set(leaks))


def _files(app, since: float) -> list[Path]:
    engine = app.extensions["store.engine"]
    if engine.dialect.name == "sqlite":
        db = Path(make_url(app.config["DATABASE_URL"]).database)
        return [db, Path(f"{db}-wal")]
    with engine.connect() as conn:
        conn = conn.execution_options(isolation_level="AUTOCOMMIT")
        conn.execute(text("CHECKPOINT"))
        root = Path(conn.execute(text("SHOW data_directory")).scalar_one())
        oid = conn.execute(text("SELECT oid FROM pg_database WHERE datname = current_database()")
                           ).scalar_one()
    files = [p for p in (root / "base" / str(oid)).iterdir() if p.is_file()]
    files += [p for p in (root / "pg_wal").iterdir()
              if p.is_file() and p.stat().st_mtime >= since - 1]
    assert files, "no database files found"
    return files


def _people(count: int) -> tuple[list[dict], list[str]]:
    base = random.randrange(1, 900_000)
    people = [h.volunteer(base + i, mobile=f"13{random.randrange(10**8, 10**9)}")
              for i in range(count)]
    return people, [p["id_number"] for p in people] + [p["mobile"] for p in people]


def test_no_id_or_mobile_number_lies_readable_in_the_database_files(store_app, server, city):
    since = time.time()
    people, secrets = _people(6)
    records = [h.item("volunteer", p) for p in people]
    # one record the store refuses: its copy is only in the message log's body
    refused = dict(people[-1], gender="9")
    body = orjson.dumps(h.envelope(records[:-1] + [h.item("volunteer", refused)],
                                   batch_id="at-rest-1"))
    answer = h.push(server, city, body, content_type="application/json", key="at-rest-key")
    assert answer.status_code == 200, answer.text
    assert answer.json()["summary"]["rejected"] == 1
    assert h.push(server, city, body, content_type="application/json",
                  key="at-rest-key").status_code == 200  # the stored answer, replayed
    ndjson = h.ndjson(records[:2])
    assert h.push(server, city, ndjson, key="at-rest-ndjson").status_code == 200

    # the evidence still verifies: over the decrypted bytes
    result = store_app.test_cli_runner().invoke(args=["log", "show", "at-rest-1"])
    assert result.exit_code == 0 and "VERIFIED" in result.output, result.output
    assert _leaks(_files(store_app, since), secrets) == []


def test_rotation_re_encrypts_the_bodies_and_the_old_key_can_go(store_app, server, city):
    people, _ = _people(2)
    body = orjson.dumps(h.envelope([h.item("volunteer", p) for p in people], batch_id="rot-1"))
    assert h.push(server, city, body, content_type="application/json").status_code == 200
    old = store_app.extensions["privacy.vault"]
    index_key = old._index_key
    with store.session_scope(store_app) as session:
        entry = session.execute(select(MessageLog).where(MessageLog.batch_id == "rot-1")).scalar_one()
    old_keys = [k.strip() for k in _configured_keys(store_app)]
    new_key = Fernet.generate_key().decode()
    both = Vault([new_key, *old_keys], index_key)
    tally = rotate_blobs(store_app.extensions["store.engine"], both)
    assert tally.rows >= 2 and not tally.failed  # the body and the stored answer at least
    assert rotate_blobs(store_app.extensions["store.engine"], both).rows == 0  # all current
    only_new = Vault([new_key], index_key)
    with store.session_scope(store_app) as session:
        session.info["vault"] = only_new
        assert b"".join(message_log.read_blob(session, entry.body_blob)) == body
        assert message_log.verify_entry(session, entry).verified


def _configured_keys(app) -> list[str]:
    import json

    text_ = app.config.get("PII_ENCRYPTION_KEYS") or ""
    if text_:
        return text_.split(",")
    return json.loads((Path(app.config["KEYS_DIR"]) / "pii.json").read_text())["encryption_keys"]
