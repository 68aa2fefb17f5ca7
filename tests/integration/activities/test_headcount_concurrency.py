"""A post never takes more volunteers than its headcount, under truly concurrent requests.

Each request runs in its own thread with its own test client (and so its own app context,
session and database connection); a barrier releases them together. On PostgreSQL the
conditional UPDATE on the post's row serialises the takers (the second re-checks
``admitted < headcount`` after the first commits); on SQLite the write lock does.
"""

from __future__ import annotations

import threading
from concurrent.futures import ThreadPoolExecutor
from typing import Callable

from sqlalchemy import func, select

from gateway import store
from gateway.store.models import Enrollment, Post
from tests.integration.activities import helpers
from tests.integration.activities.helpers import enrol_url

ROUNDS = 10


def _together(app, calls: list[Callable]) -> list:
    """Run each ``call(client)`` in its own thread, all released at once by a barrier."""
    barrier = threading.Barrier(len(calls))

    def run(call):
        client = app.test_client()
        barrier.wait(timeout=30)
        return call(client)

    with ThreadPoolExecutor(max_workers=len(calls)) as pool:
        return list(pool.map(run, calls))


def _post_state(app, project_no: str) -> tuple[int, dict[str, int]]:
    """The post's admitted count and the number of enrolments per status."""
    from gateway.store.models import Project

    with store.session_scope(app) as session:
        project_id = session.execute(select(Project.id).where(Project.project_no == project_no)).scalar_one()
        admitted = session.execute(select(Post.admitted).where(Post.project_id == project_id)).scalar_one()
        counts = dict(session.execute(select(Enrollment.status, func.count())
                                      .where(Enrollment.project_id == project_id)
                                      .group_by(Enrollment.status)).all())
    return admitted, counts


def _approver(number: str, headers: dict) -> Callable:
    return lambda client: client.post(f"/api/v1/enrollments/{number}/approve", json={}, headers=headers)


def test_two_approvals_for_the_last_place_exactly_one_wins(store_app, team, beijing_app):
    http = store_app.test_client()
    for round_ in range(ROUNDS):
        project = helpers.publish(http, team, helpers.project_record(headcount=1, name=f"最后一个名额 {round_}"))
        numbers = []
        for _ in range(2):
            answer = http.post(enrol_url(project), json={"volunteer_no": helpers.make_volunteer(store_app)},
                               headers=beijing_app)
            assert answer.status_code == 201, answer.get_data(as_text=True)
            numbers.append(answer.get_json()["enrollment_no"])

        answers = _together(store_app, [_approver(n, team) for n in numbers])

        statuses = sorted(a.status_code for a in answers)
        assert statuses == [200, 409], [a.get_data(as_text=True) for a in answers]
        loser = next(a for a in answers if a.status_code == 409).get_json()
        assert [e["rule"] for e in loser["errors"]] == ["enrollment.post_full"]
        admitted, counts = _post_state(store_app, project["project_no"])
        assert admitted == 1 and counts == {"1": 1, "2": 1}, (round_, admitted, counts)


def test_twenty_self_admissions_for_five_places(store_app, team, beijing_app):
    http = store_app.test_client()
    record = helpers.project_record(headcount=5, recruit_scope="3") | {"recruit_password": "open-sesame"}
    project = helpers.publish(http, team, record)
    volunteers = [helpers.make_volunteer(store_app) for _ in range(20)]

    def applicant(volunteer_no):
        return lambda client: client.post(enrol_url(project), headers=beijing_app,
                                          json={"volunteer_no": volunteer_no, "password": "open-sesame"})

    answers = _together(store_app, [applicant(v) for v in volunteers])

    statuses = [a.status_code for a in answers]
    assert statuses.count(201) == 5 and statuses.count(409) == 15, \
        [a.get_data(as_text=True) for a in answers if a.status_code not in (201, 409)]
    assert all(a.get_json()["errors"][0]["rule"] == "enrollment.post_full"
               for a in answers if a.status_code == 409)
    admitted, counts = _post_state(store_app, project["project_no"])
    assert admitted == 5 and counts == {"5": 5}
