"""Console actions on both stores: sources, dead letters (replay after widening a scope),
roles, region scopes, clients and keys, the message log's evidence."""

from __future__ import annotations

import json

from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import ed25519
from sqlalchemy import select

from gateway import store
from gateway.services.clients import create_client
from gateway.exchange import keys as client_keys
from gateway.signing import b64url_encode
from gateway.store.models import ClientKey, DeadLetter, MessageLog
from tests.integration.console.helpers import audit_rows, logged_in, post
from tests.integration.exchange_push import helpers as push_helpers
from tests.integration.sync_jobs.helpers import run

COLUMNS = {"姓名": "name", "证件类型": "id_type", "证件号码": "id_number", "性别": "gender",
           "手机号码": "mobile", "服务区域": "service_area"}


def _sheet_source(app, folder, name="sheet", region="3201", count=3):
    from sync_jobs import sources

    folder.mkdir(parents=True, exist_ok=True)
    lines = [",".join(COLUMNS)]
    for i in range(count):
        p = push_helpers.volunteer(i)
        lines.append(",".join([p["name"], "内地居民身份证", p["id_number"], "男" if p["gender"] == "1" else "女",
                               p["mobile"], p["service_area"]]))
    (folder / "people.csv").write_bytes(("\n".join(lines) + "\n").encode("utf-8-sig"))
    with app.app_context(), app.extensions["store.sessionmaker"]() as session:
        sources.add_or_update(session, app.extensions["privacy.vault"], sources.SourceSpec(
            name=name, adapter="spreadsheet", direction="pull",
            settings={"folder": str(folder), "entity": "volunteer", "columns": COLUMNS},
            scope={"region_prefix": region, "pii": "full"}))
        session.commit()


def _pending(app) -> list[int]:
    with app.extensions["store.sessionmaker"]() as session:
        return list(session.execute(select(DeadLetter.id).where(DeadLetter.status == "pending")
                                    .order_by(DeadLetter.id)).scalars())


def test_replay_after_widening_the_scope_clears_the_dead_letters(store_app, tmp_path):
    _sheet_source(store_app, tmp_path / "drop", region="3201")   # Nanjing; the sheet is Beijing's
    run(store_app, "sheet")
    ids = _pending(store_app)
    assert len(ids) == 3
    operator = logged_in(store_app, "ops", "operator")
    page = operator.get("/console/dead-letters?source=sheet").data.decode()
    assert "exchange.out_of_scope" in page
    detail = operator.get(f"/console/dead-letters/{ids[0]}").data.decode()
    person = push_helpers.volunteer(0)
    assert person["id_number"] not in detail and person["mobile"] not in detail
    assert person["id_number"][:6] in detail                       # masked, not dropped

    viewer = logged_in(store_app, "look", "viewer")
    answer = post(viewer, "/console/dead-letters/replay", {"id": str(ids[0])})
    assert answer.status_code == 403 and _pending(store_app) == ids

    result = store_app.test_cli_runner().invoke(args=["sources", "update", "sheet", "--region", "11"])
    assert result.exit_code == 0, result.output
    answer = post(operator, "/console/dead-letters/replay", {"id": str(ids[0])})
    assert answer.status_code == 302
    assert _pending(store_app) == ids[1:]
    answer = post(operator, "/console/dead-letters/replay", {"all": "1", "source": "sheet"})
    assert _pending(store_app) == []
    assert "没有符合条件的死信" in operator.get("/console/dead-letters").data.decode()
    trail = [(actor, action, outcome) for actor, action, _t, outcome, _d in audit_rows(store_app)
             if action.startswith(("dead_letters", "refused"))]
    assert trail == [("look", "refused:console.dead_letters_action", "refused"),
                     ("ops", "dead_letters.replay", "ok"), ("ops", "dead_letters.replay", "ok")]


def test_discard_marks_the_letter_and_is_audited(store_app, tmp_path):
    _sheet_source(store_app, tmp_path / "drop", count=1)
    run(store_app, "sheet")
    (letter,) = _pending(store_app)
    operator = logged_in(store_app, "ops", "operator")
    assert post(operator, "/console/dead-letters/discard", {"id": str(letter)}).status_code == 302
    assert _pending(store_app) == []
    assert ("ops", "dead_letters.discard") in [(a, b) for a, b, *_ in audit_rows(store_app)]


def test_a_province_account_sees_nothing_of_another(store_app, tmp_path):
    _sheet_source(store_app, tmp_path / "bj", name="beijing-sheet", region="11")
    _sheet_source(store_app, tmp_path / "js", name="jiangsu-sheet", region="3201", count=1)
    run(store_app, "jiangsu-sheet")
    with store.session_scope(store_app) as session:
        create_client(session, "bj-portal", "bj", region_prefix="11")
    jiangsu = logged_in(store_app, "js-ops", "operator", "key_manager", region="32")
    overview = jiangsu.get("/console/").data.decode()
    assert "jiangsu-sheet" in overview
    assert "beijing-sheet" not in overview and "bj-portal" not in overview
    assert jiangsu.get("/console/sources/beijing-sheet").status_code == 404
    assert post(jiangsu, "/console/sources/beijing-sheet/pause").status_code == 404
    assert "bj-portal" not in jiangsu.get("/console/clients").data.decode()
    assert post(jiangsu, "/console/clients/bj-portal/disable").status_code == 404
    nation = logged_in(store_app, "boss", "operator")
    assert "beijing-sheet" in nation.get("/console/").data.decode()
    (letter,) = _pending(store_app)
    beijing = logged_in(store_app, "bj-ops", "operator", region="11")
    assert beijing.get(f"/console/dead-letters/{letter}").status_code == 404
    post(beijing, "/console/dead-letters/replay", {"id": str(letter)})
    assert _pending(store_app) == [letter]


def test_pause_resume_and_check_a_source(store_app, tmp_path):
    _sheet_source(store_app, tmp_path / "drop")
    operator = logged_in(store_app, "ops", "operator")
    post(operator, "/console/sources/sheet/pause", {"reason": "vendor maintenance"})
    page = operator.get("/console/sources/sheet").data.decode()
    assert "vendor maintenance" in page and "恢复" in page
    post(operator, "/console/sources/sheet/resume")
    post(operator, "/console/sources/sheet/check")
    actions = [(b, o) for _a, b, _t, o, _d in audit_rows(store_app) if b.startswith("source.")]
    assert actions == [("source.pause", "ok"), ("source.resume", "ok"), ("source.check", "ok")]
    viewer = logged_in(store_app, "look")
    assert post(viewer, "/console/sources/sheet/pause").status_code == 403


def test_keys_are_added_as_pem_or_jwk_rotated_revoked_and_a_client_disabled(store_app):
    with store.session_scope(store_app) as session:
        create_client(session, "portal", "portal", region_prefix="11")
    manager = logged_in(store_app, "keys", "key_manager")
    pem = client_keys.generate_key_pair().public_pem.decode()
    assert post(manager, "/console/clients/portal/add-key", {"key": pem}, "/console/clients").status_code == 302
    raw = ed25519.Ed25519PrivateKey.generate().public_key().public_bytes(
        serialization.Encoding.Raw, serialization.PublicFormat.Raw)
    jwk = {"kty": "OKP", "crv": "Ed25519", "x": b64url_encode(raw)}
    post(manager, "/console/clients/portal/add-key", {"key": json.dumps(jwk), "key_id": "portal-2"},
         "/console/clients")
    with store_app.extensions["store.sessionmaker"]() as session:
        rows = {k.key_id: k.status for k in session.execute(select(ClientKey)).scalars()}
    assert len(rows) == 2 and rows["portal-2"] == "active"
    first = next(k for k in rows if k != "portal-2")
    new_pem = client_keys.generate_key_pair().public_pem.decode()
    post(manager, "/console/clients/portal/rotate", {"key": new_pem, "old_key_id": first, "revoke_old": "1"},
         "/console/clients")
    post(manager, "/console/clients/portal/revoke", {"key_id": "portal-2"}, "/console/clients")
    with store_app.extensions["store.sessionmaker"]() as session:
        rows = {k.key_id: k.status for k in session.execute(select(ClientKey)).scalars()}
    assert rows[first] == "revoked" and rows["portal-2"] == "revoked"
    assert list(rows.values()).count("active") == 1
    answer = post(manager, "/console/clients/portal/add-key", {"key": "-----BEGIN PRIVATE KEY-----"},
                  "/console/clients")
    assert answer.status_code == 302                      # refused with a message, audited
    post(manager, "/console/clients/portal/disable", page="/console/clients")
    assert "已停用" in manager.get("/console/clients").data.decode()
    outcomes = [(b, o) for _a, b, _t, o, _d in audit_rows(store_app) if b.startswith("client.")]
    assert outcomes == [("client.add-key", "ok"), ("client.add-key", "ok"), ("client.rotate", "ok"),
                        ("client.revoke-key", "ok"), ("client.add-key", "refused"),
                        ("client.disable", "ok")]
    operator = logged_in(store_app, "ops", "operator")
    assert post(operator, "/console/clients/portal/revoke", {"key_id": first}).status_code == 403


def test_pem_from_jwk_refuses_private_and_foreign_keys():
    import pytest

    with pytest.raises(client_keys.ClientKeyError, match="private"):
        client_keys.pem_from_jwk({"kty": "OKP", "crv": "Ed25519", "x": "AA", "d": "AA"})
    with pytest.raises(client_keys.ClientKeyError, match="only Ed25519"):
        client_keys.pem_from_jwk({"kty": "RSA", "n": "AQAB", "e": "AQAB"})


def test_a_logged_batch_is_reverified_on_screen_and_downloadable(store_app, tmp_path):
    _sheet_source(store_app, tmp_path / "drop", region="11")
    run(store_app, "sheet")
    with store_app.extensions["store.sessionmaker"]() as session:
        entry_id = session.execute(select(MessageLog.id).where(MessageLog.source_name == "sheet")
                                   ).scalars().first()
    viewer = logged_in(store_app, "look")
    assert "sheet" in viewer.get("/console/messages?sender=sheet").data.decode()
    verdict = viewer.get(f"/console/messages/{entry_id}?verify=1", headers={"HX-Request": "true"})
    assert "VERIFIED" in verdict.data.decode() and "FAILED" not in verdict.data.decode()
    download = viewer.get(f"/console/messages/{entry_id}/evidence.json")
    assert download.status_code == 200 and json.loads(download.data)["id"] == entry_id
    assert viewer.get("/console/quality").status_code == 200
    scoped = logged_in(store_app, "js", region="32")
    assert scoped.get(f"/console/messages/{entry_id}").status_code == 404
