"""Issue 11, finding 5: personal data reaches no log line of a real gunicorn, access log on.

Requests put personal data where an access log writes it — the request line (query values,
percent-encoded digits and names, other document types, mobiles in every spelling), the
Referer and the User-Agent — and the whole output of ``vgw serve`` (gunicorn's access and
error logs and the gateway's own lines), in text and in JSON log format, must hold none of
it. Before the fix the access line kept ``id_number=11010519900307123%39`` and
``id_number=E98765432`` in clear.
"""

from __future__ import annotations

import pytest
import requests

from tests.e2e.gunicorn_support import Gunicorn
from tests.e2e.sync_support import child_env

pytestmark = pytest.mark.slow

CITIZEN = "110105199003071239"
PASSPORT = "E98765432"
HK_PERMIT = "H1234567801"
TAIWAN = "A123456789"
MOBILE = "13800138000"

#: (path and query as sent, extra headers): each carries one of the numbers above.
REQUESTS = [
    ("/api/v1/volunteers?id_number=11010519900307123%39", {}),
    ("/api/v1/volunteers?id_type=05&id_number=E98765432", {}),
    ("/api/v1/volunteers?id%5Fnumber=H1234567801", {}),
    ("/api/v1/volunteers?mobile=%2B86%20138%200013%208000", {}),
    ("/api/v1/volunteers?mobile=138.0013.8000", {}),
    ("/api/v1/volunteers?name=%31%31%30%31%30%35%31%39%39%30%30%33%30%37%31%32%33%39", {}),
    ("/api/v1/volunteers?name=A123456789", {}),
    ("/readyz", {"Referer": "http://127.0.0.1/search?id_number=E98765432&phone=13800138000"}),
    ("/readyz", {"User-Agent": "probe/1.0 (+86 138-0013-8000; 110105199003071239)"}),
]

SECRETS = [CITIZEN, "11010519900307123%39", "%31%31%30%31%30%35", PASSPORT, HK_PERMIT, TAIWAN,
           MOBILE, "138%200013%208000", "138.0013.8000", "138-0013-8000"]


@pytest.mark.parametrize("log_format", ["text", "json"])
def test_no_personal_data_in_the_access_log_or_the_app_log(app, tmp_path, log_format):
    log = tmp_path / f"gunicorn-{log_format}.log"
    port = 22100 if log_format == "text" else 22101
    server = Gunicorn(child_env(app, LOG_FORMAT=log_format, LOG_LEVEL="INFO"), log,
                      workers=1, access_log=True, port=port)
    try:
        for path, headers in REQUESTS:
            answer = requests.get(server.url + path, headers=headers, timeout=30)
            assert answer.status_code in (200, 400, 401, 422), (path, answer.status_code)
    finally:
        server.stop()
    output = server.output()
    # The access log really wrote each request (its path, with the values withheld).
    assert output.count("/api/v1/volunteers?") >= 7, output[-3000:]
    assert "id_number=[withheld]" in output and "mobile=[withheld]" in output
    if log_format == "json":
        assert '"logger": "gateway.http"' in output  # the gateway's own line per request
    for secret in SECRETS:
        assert secret not in output, f"{secret} in the {log_format} log:\n{output[-3000:]}"
