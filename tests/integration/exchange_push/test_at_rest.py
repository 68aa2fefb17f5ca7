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


# -- the other copies: spooled uploads in a source's folder, dead letters, history ------------

_COLUMNS = {"姓名": "name", "证件类型": "id_type", "证件号码": "id_number", "性别": "gender",
            "手机号码": "mobile", "服务区域": "service_area"}


def _sheet(people: list[dict]) -> bytes:
    lines = [",".join(_COLUMNS)] + [",".join([p["name"], "内地居民身份证", p["id_number"],
                                               "男" if p["gender"] == "1" else "女", p["mobile"],
                                               p["service_area"]]) for p in people]
    return ("\n".join(lines) + "\n").encode("utf-8-sig")


def _folder_files(folder: Path) -> list[Path]:
    return [p for p in folder.rglob("*") if p.is_file()]


def test_uploads_dead_letters_and_history_lie_sealed_and_follow_rotation(store_app, tmp_path,
                                                                         caller):
    """An uploaded sheet is kept sealed in the source's folder and read from there by the next
    run; the rows outside the source's scope wait as dead letters; updates leave history rows
    — and neither the folder nor the database files hold a number. Rotation seals the upload
    and re-encrypts the dead letters under the new key; the old key can go."""
    from gateway.adapter import load_adapter
    from gateway.cli.pii import encrypted_columns, reseal_uploads, rotate_table
    from gateway.store.models import DeadLetter
    from sync_jobs import dead_letters, engine, sources

    since = time.time()
    store_app.config.update(SYNC_RETRY_BACKOFF_SECONDS=0, SYNC_RETRY_MAX_BACKOFF_SECONDS=0)
    folder = tmp_path / "drop"
    with store_app.app_context(), store_app.extensions["store.sessionmaker"]() as session:
        sources.add_or_update(session, store_app.extensions["privacy.vault"], sources.SourceSpec(
            name="team-sheet", adapter="spreadsheet", direction="pull",
            settings={"folder": str(folder), "entity": "volunteer", "columns": _COLUMNS},
            scope={"region_prefix": "1101", "pii": "full"}))
        session.commit()
    inside, secrets = _people(3)
    outside = [h.volunteer(random.randrange(1, 900_000), area="310101",
                           mobile=f"13{random.randrange(10**8, 10**9)}") for _ in range(2)]
    secrets += [p["id_number"] for p in outside] + [p["mobile"] for p in outside]
    http = store_app.test_client()
    headers = caller(store_app, "district", region="11", perms={"sync": ["write"]})
    answer = http.put("/api/v1/sync/sources/team-sheet/files/志愿者.csv",
                      data=_sheet(inside + outside), headers={**headers, "Content-Type": "text/csv"})
    assert answer.status_code == 201, answer.get_json()
    assert [p.name for p in _folder_files(folder)] == ["志愿者.csv.vgw-sealed"]

    with store_app.app_context():
        (result,) = engine.run_source(store_app, "team-sheet", sleep=lambda _s: None)
    assert (result.read, result.written, result.dead_lettered) == (5, 3, 2)
    # history: an update of a stored person through the API (old and new mobile in a change row)
    admin = caller(store_app, "admin", perms={"*": ["read", "write"]}, pii="full")
    number = http.post("/api/v1/volunteers/search", json={"id_number": inside[0]["id_number"]},
                       headers=admin).get_json()["items"][0]["volunteer_no"]
    new_mobile = f"13{random.randrange(10**8, 10**9)}"
    secrets.append(new_mobile)
    assert http.patch(f"/api/v1/volunteers/{number}", json={"mobile": new_mobile},
                      headers=admin).status_code == 200
    assert _leaks(_folder_files(folder) + _files(store_app, since), secrets) == []

    # Rotation: a new key in front; tables, blobs and the sealed upload move to it.
    old_keys = [k.strip() for k in _configured_keys(store_app)]
    index_key = store_app.extensions["privacy.vault"]._index_key
    new_key = Fernet.generate_key().decode()
    both = Vault([new_key, *old_keys], index_key)
    db = store_app.extensions["store.engine"]
    for table, columns in encrypted_columns():
        assert not rotate_table(db, both, table, columns, 100).failed
    assert not rotate_blobs(db, both).failed
    resealed = reseal_uploads(db, both)
    assert (resealed.values, resealed.failed) == (1, [])
    assert reseal_uploads(db, both).values == 0  # all current
    only_new = Vault([new_key], index_key)
    with store_app.app_context(), store_app.extensions["store.sessionmaker"]() as session:
        letters = session.execute(select(DeadLetter)).scalars().all()
        settings = sources.settings_of(only_new, sources.get(session, "team-sheet"))
    assert len(letters) == 2
    store_app.extensions["privacy.vault"] = only_new
    try:
        assert {dead_letters.payload(store_app, d)["证件号码"] for d in letters} == \
            {p["id_number"] for p in outside}
    finally:
        store_app.extensions["privacy.vault"] = both
    with load_adapter("spreadsheet", settings, sealer=only_new) as adapter:
        page = adapter.read("volunteer", None, 100)
    assert sorted(i.native["证件号码"] for i in page.items) == \
        sorted(p["id_number"] for p in inside + outside)
    assert _leaks(_folder_files(folder), secrets) == []
