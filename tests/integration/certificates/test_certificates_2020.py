"""Certificates by the 2020 办法 (《志愿服务记录与证明出具办法（试行）》), SQLite and PostgreSQL:

* Art. 14 如实出具 — a certificate of actual service only: honorary hours (kind 2) are not
  added in;
* Art. 15 — it prints the service content (服务内容) of each line, in the signed content and
  on the PDF;
* Art. 14 谁记录谁证明 — the issuer must be an organisation that acts: a team rejected, under
  review, suspended, withdrawn (deleted) or locked cannot issue (409 team.not_active);
* Art. 14 — volunteers may print their own certificate from the system: a portal client
  with certificate:request asks for one for the volunteer it acts for.
"""

from __future__ import annotations

import shutil
import subprocess
from datetime import date

import pytest
from sqlalchemy import func, select

from gateway import store
from gateway.services.certificates import PORTAL_HANDLER
from gateway.store.models import Certificate, Project, Team, Volunteer
from tests.conftest import make_caller
from tests.integration.certificates.helpers import (ISSUE_PERMS, PERIOD, add_record, issue_body,
                                                    seed)

URL = "/api/v1/certificates"
PORTAL_PERMS = {"certificate": ["request", "read"]}


def _count(app) -> int:
    with store.session_scope(app) as session:
        return session.execute(select(func.count()).select_from(Certificate)).scalar_one()


def _add_honorary(app, day: date, hours: str) -> None:
    with store.session_scope(app) as session:
        volunteer = session.execute(select(Volunteer)).scalars().first()
        team = session.execute(select(Team).where(Team.team_no == "T110105000001")).scalar_one()
        project = session.execute(select(Project).where(
            Project.project_no == "P110105202404001")).scalar_one()
        record = add_record(session, volunteer, project, team, day, hours, start_hour=14)
        record.kind = "2"   # 荣誉时长


def _set_team(app, team_no: str, **values) -> None:
    with store.session_scope(app) as session:
        team = session.execute(select(Team).where(Team.team_no == team_no)).scalar_one()
        for name, value in values.items():
            setattr(team, name, value)


def _give_contact(app, team_no: str) -> None:
    vault = app.extensions["privacy.vault"]
    _set_team(app, team_no, contact_name="刘强", contact_mobile_enc=vault.encrypt("13911112222"),
              contact_mobile_masked="139****2222")


def test_honorary_hours_are_not_certified_as_service_time(store_app):
    world = seed(store_app)
    _add_honorary(store_app, date(2024, 5, 15), "20")
    client = store_app.test_client()
    headers = make_caller(store_app, "chaoyang", region="11", perms=ISSUE_PERMS)
    answer = client.post(URL, json=issue_body(world), headers=headers)
    assert answer.status_code == 201, answer.get_json()
    # 3.50 + 3.00 + 2.00 of actual service; the 20 honorary hours are not in
    assert answer.get_json()["signed"]["content"]["service"]["total_hours"] == "8.50"
    # a period holding only honorary hours certifies nothing
    only = client.post(URL, json=issue_body(world, period_from="2024-05-15",
                                             period_to="2024-05-15"), headers=headers)
    assert only.status_code == 422
    assert [e["rule"] for e in only.get_json()["errors"]] == ["certificate.no_hours"]


def test_each_line_states_its_service_content_and_the_pdf_prints_it(store_app):
    world = seed(store_app)
    with store.session_scope(store_app) as session:
        project = session.execute(select(Project).where(
            Project.project_no == "P110105202404001")).scalar_one()
        project.description = "陪伴社区独居老人，  代购生活用品"
    client = store_app.test_client()
    headers = make_caller(store_app, "chaoyang", region="11",
                          perms={"certificate": ["read", "write"]})
    answer = client.post(URL, json=issue_body(world), headers=headers)
    assert answer.status_code == 201, answer.get_json()
    items = answer.get_json()["signed"]["content"]["service"]["items"]
    assert [item["content"] for item in items] == [
        "社区服务：陪伴社区独居老人， 代购生活用品", "社区服务"]
    if shutil.which("pdftotext") is None:
        pytest.skip("pdftotext (poppler-utils) is not installed")
    pdf = client.get(answer.get_json()["pdf_url"], headers=headers)
    assert pdf.status_code == 200
    text = subprocess.run(["pdftotext", "-", "-"], input=pdf.data, capture_output=True,
                          check=True).stdout.decode()
    assert "服务内容：社区服务：陪伴社区独居老人" in "".join(text.split())


@pytest.mark.parametrize("status", ["0", "2", "3", "4", "5"])
def test_a_team_that_is_not_active_cannot_issue(store_app, status):
    world = seed(store_app)
    _set_team(store_app, world.team_a, status=status)
    client = store_app.test_client()
    headers = make_caller(store_app, "chaoyang", region="11", perms=ISSUE_PERMS)
    answer = client.post(URL, json=issue_body(world), headers=headers)
    assert answer.status_code == 409, answer.get_json()
    assert answer.mimetype == "application/problem+json"
    body = answer.get_json()
    assert [(e["pointer"], e["rule"]) for e in body["errors"]] == [("/team_no", "team.not_active")]
    assert body["team_status"] == status
    assert _count(store_app) == 0


def _request(client, headers, world, **body):
    payload = {"team_no": world.team_a, "period_from": PERIOD[0], "period_to": PERIOD[1], **body}
    return client.post(f"/api/v1/volunteers/{world.volunteer_no}/certificates", json=payload,
                       headers=headers)


def test_a_portal_requests_a_certificate_for_the_volunteer_it_acts_for(store_app):
    world = seed(store_app)
    _give_contact(store_app, world.team_a)
    client = store_app.test_client()
    portal = make_caller(store_app, "beijing-portal", region="11", perms=PORTAL_PERMS)
    answer = _request(client, portal, world)
    assert answer.status_code == 201, answer.get_json()
    content = answer.get_json()["signed"]["content"]
    assert content["service"]["total_hours"] == "8.50"
    assert content["issuer"] == {"name": "北京市朝阳区建外街道社区志愿服务中心",
                                 "team_no": world.team_a, "responsible_person": "刘强",
                                 "handler": PORTAL_HANDLER, "contact": "13911112222"}
    # the portal reads and prints what it asked for
    number = answer.get_json()["certificate_no"]
    assert client.get(f"{URL}/{number}", headers=portal).status_code == 200
    with store.session_scope(store_app) as session:
        issued_by, = session.execute(select(Certificate.issued_by)).one()
    assert issued_by == "beijing-portal"


def test_a_portal_acts_only_for_volunteers_of_its_region_and_with_the_permission(store_app):
    world = seed(store_app)
    _give_contact(store_app, world.team_a)
    client = store_app.test_client()
    elsewhere = make_caller(store_app, "guangdong-portal", region="44", perms=PORTAL_PERMS)
    answer = _request(client, elsewhere, world)
    assert answer.status_code == 404 and answer.mimetype == "application/problem+json"
    issuer_only = make_caller(store_app, "chaoyang", region="11", perms=ISSUE_PERMS)
    answer = _request(client, issuer_only, world)
    assert answer.status_code == 403
    assert answer.get_json()["type"] == "/problems/out-of-scope"
    assert _count(store_app) == 0


def test_a_portal_request_needs_an_active_issuer_with_a_contact(store_app):
    world = seed(store_app)
    client = store_app.test_client()
    portal = make_caller(store_app, "beijing-portal", region="11", perms=PORTAL_PERMS)
    no_contact = _request(client, portal, world)
    assert no_contact.status_code == 422
    assert [(e["pointer"], e["rule"]) for e in no_contact.get_json()["errors"]] == [
        ("/team_no", "certificate.issuer_contact")]
    _give_contact(store_app, world.team_a)
    _set_team(store_app, world.team_a, status="3")
    suspended = _request(client, portal, world)
    assert suspended.status_code == 409
    assert [e["rule"] for e in suspended.get_json()["errors"]] == ["team.not_active"]
    assert _count(store_app) == 0
