"""The service-time policies are settings: each value changes what POST /api/v1/validate answers.

SERVICE_HOURS_POLICY (within_duration | equal_duration) and SERVICE_RECORD_SAME_DAY (off | on)
are the product's choices, not the standard (docs/rules.md, "Where each rule comes from"):
the 2020 办法 Art. 7 leaves service time to the organisation. Each value of each setting is
tried through the real HTTP path, from the settings layer down to the engine's rules and its
fast path.
"""

from __future__ import annotations

import pytest

from gateway import create_app
from gateway.settings import SettingsError, load_settings

URL = "/api/v1/validate/service_record"


def _record(**fields):
    record = {"volunteer_no": "V1100002201000004V", "project_no": "P1",
              "started_at": "2024-05-01T09:00:00", "ended_at": "2024-05-01T12:30:00",
              "hours": 3.5, "status": "2"}
    record.update(fields)
    return record


@pytest.fixture
def validate(tmp_path):
    apps = []

    def answer(records, **settings):
        app = create_app({"TESTING": True, "DATABASE_URL": f"sqlite:///{tmp_path / 'v.sqlite3'}",
                          "KEYS_DIR": str(tmp_path / "keys"), **settings})
        apps.append(app)
        response = app.test_client().post(URL, json=records)
        assert response.status_code == 200, response.get_data(as_text=True)
        return [sorted(e["rule"] for e in result["errors"]) for result in response.get_json()["results"]]

    yield answer
    for app in apps:
        app.extensions["store.engine"].dispose()


SHORTER = _record(hours=3.0)                     # less than the 3.5 h stretch
LONGER = _record(hours=4.0)                      # more than the stretch
EXACT = _record()
OVERNIGHT = _record(started_at="2024-05-01T22:00:00", ended_at="2024-05-02T01:00:00", hours=3)


def test_hours_policy_within_duration_is_the_default(validate):
    assert validate([EXACT, SHORTER, LONGER]) == [
        [], [], ["service_record.hours_within_duration"]]
    assert validate([EXACT, SHORTER, LONGER], SERVICE_HOURS_POLICY="within_duration") == [
        [], [], ["service_record.hours_within_duration"]]


def test_hours_policy_equal_duration(validate):
    assert validate([EXACT, SHORTER, LONGER], SERVICE_HOURS_POLICY="equal_duration") == [
        [], ["service_record.hours_match"], ["service_record.hours_match"]]


def test_same_day_policy_off_by_default(validate):
    assert validate([OVERNIGHT]) == [[]]
    assert validate([OVERNIGHT], SERVICE_RECORD_SAME_DAY=False) == [[]]


def test_same_day_policy_on(validate):
    ends_at_midnight = _record(started_at="2024-05-01T20:00:00", ended_at="2024-05-02T00:00:00",
                               hours=4)
    assert validate([OVERNIGHT, ends_at_midnight, EXACT], SERVICE_RECORD_SAME_DAY=True) == [
        ["service_record.same_day"], [], []]


def test_policy_settings_are_checked_and_layered(tmp_path):
    settings = load_settings(str(tmp_path), environ={})
    assert settings["SERVICE_HOURS_POLICY"] == "within_duration"
    assert settings["SERVICE_RECORD_SAME_DAY"] is False
    env = {"GATEWAY_SERVICE_HOURS_POLICY": "equal_duration", "GATEWAY_SERVICE_RECORD_SAME_DAY": "on"}
    settings = load_settings(str(tmp_path), environ=env)
    assert settings["SERVICE_HOURS_POLICY"] == "equal_duration"
    assert settings["SERVICE_RECORD_SAME_DAY"] is True
    with pytest.raises(SettingsError, match="SERVICE_HOURS_POLICY"):
        load_settings(str(tmp_path), environ={"GATEWAY_SERVICE_HOURS_POLICY": "equal"})
