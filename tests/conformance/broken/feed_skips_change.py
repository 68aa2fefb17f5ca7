"""A feed that skips a change: an off-by-one drops the last change of every full page.

The page keeps its next_cursor (past the dropped change), so the change is never handed out.
The answer is signed again with the gateway's own key, so its signature still verifies.
"""

import json

from flask import request

from gateway.exchange.signatures import sign_response

DEFECT = "the change feed drops the last change of every full page"
FAILS = {"server.feed.exactly_once"}


def build(app):
    @app.after_request
    def drop_one(response):
        if request.path != "/api/v1/exchange/changes" or response.status_code != 200:
            return response
        page = json.loads(response.get_data())
        limit = int(request.args.get("limit", 500))
        if len(page["changes"]) == limit and limit > 1:
            page["changes"] = page["changes"][:-1]
            response.set_data(json.dumps(page, ensure_ascii=False).encode("utf-8"))
            sign_response(response)
        return response

    return app
