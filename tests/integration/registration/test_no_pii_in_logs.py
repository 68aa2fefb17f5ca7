"""Registration never writes an ID or mobile number to a log, an answer or the history in clear.

The log scrubber (gateway.privacy.PiiLogFilter) is switched off here: the code must not log
personal data in the first place, so this test checks the code, not the scrubber. Every
logger is captured at DEBUG, and the app echoes its SQL with parameters (SQL_ECHO).
"""

from __future__ import annotations

import logging

from sqlalchemy import select

from gateway.privacy import PiiLogFilter, mask_id_number, mask_mobile
from gateway.store.base import Base
from tests.integration.registration.helpers import (ALL_PERMS, citizen_id, make_caller, person,
                                                    sibling_app)

# Distinctive: a Beijing (Chaoyang) man born 1980-01-01, sequence 123, and a mobile used nowhere else.
ID_NUMBER = citizen_id(123, born="19800101", area="110105")
MOBILE = "13698765432"
NEW_MOBILE = "15887654321"


def test_personal_data_appears_in_no_log_answer_or_history(store_app, caplog, monkeypatch):
    monkeypatch.setattr(PiiLogFilter, "filter", lambda self, record: True)
    app = sibling_app(store_app, SQL_ECHO=True)
    try:
        caplog.set_level(logging.DEBUG)
        for name in ("gateway", "sqlalchemy.engine", "werkzeug", "flask_smorest"):
            caplog.set_level(logging.DEBUG, logger=name)
        assert logging.getLogger().getEffectiveLevel() == logging.DEBUG
        client = app.test_client()
        headers = make_caller(app, "bj", region="11", perms=ALL_PERMS)
        record = person(123, id_number=ID_NUMBER, gender="1", mobile=MOBILE, source_id="pii-test")
        bodies: list[str] = []

        def call(method, url, status, **kwargs):
            answer = client.open(url, method=method, headers=headers, **kwargs)
            assert answer.status_code == status, answer.get_data(as_text=True)
            bodies.append(answer.get_data(as_text=True))
            return answer

        number = call("POST", "/api/v1/volunteers", 201, json=record).get_json()["volunteer_no"]
        call("POST", "/api/v1/volunteers", 409, json={**record, "source_id": "pii-test-2"})
        call("GET", f"/api/v1/volunteers/{number}", 200)
        call("GET", "/api/v1/volunteers", 200, query_string={"region": "110105"})
        call("POST", "/api/v1/volunteers/search", 200, json={"id_number": ID_NUMBER})
        call("POST", "/api/v1/volunteers/search", 200, json={"mobile": MOBILE})
        call("GET", "/api/v1/volunteers", 400, query_string={"id_number": ID_NUMBER})
        call("POST", "/api/v1/volunteers/lookup", 200, json={"id_type": "01", "id_number": ID_NUMBER})
        call("POST", "/api/v1/volunteers", 422,
             json={**record, "gender": "2", "mobile": MOBILE[:-1], "source_id": "pii-test-3"})
        call("PATCH", f"/api/v1/volunteers/{number}", 200, json={"mobile": NEW_MOBILE})
        call("PATCH", f"/api/v1/volunteers/{number}", 422, json={"gender": "2"})
        call("GET", f"/api/v1/volunteers/{number}/history", 200)

        logged = caplog.text
        # The capture really saw the SQL and its parameters (masked copies are parameters).
        assert "INSERT INTO volunteers" in logged
        assert mask_id_number(ID_NUMBER) in logged
        answers = "\n".join(bodies)
        assert mask_id_number(ID_NUMBER) in answers and mask_mobile(MOBILE) in answers
        with app.extensions["store.engine"].connect() as conn:
            history = [tuple(row) for row in conn.execute(select(Base.metadata.tables["changes"]))]
            everything = [tuple(row) for table in Base.metadata.sorted_tables
                          for row in conn.execute(select(table))]
        assert history and mask_mobile(NEW_MOBILE) in str(history)
        for secret in (ID_NUMBER, MOBILE, MOBILE[:-1], NEW_MOBILE):
            assert secret not in logged, "personal data in the logs"
            assert secret not in answers, "personal data in an answer"
            assert secret not in str(history), "personal data in the history"
            assert secret not in str(everything), "personal data in clear in the store"
    finally:
        app.extensions["store.engine"].dispose()
