"""A feed that ignores the schema version asked for: ``?schema_version=2`` is answered in v1.

The suite runs in schema version 2 against it (``SCHEMA_VERSION``): the pages are served,
signed and paged as always (the request's target URI, which the signature covers, is left as
sent), only the feed never sees the version, so each record is the v1 rendering and a
volunteer pushed in v2 comes back without its v2 members. Everything else still passes.
"""

from flask import request
from werkzeug.datastructures import ImmutableMultiDict

DEFECT = "the change feed answers schema v1 whatever schema_version is asked for"
FAILS = {"server.feed.schema_version"}
SCHEMA_VERSION = "2"


def build(app):
    @app.before_request
    def forget_the_version():
        if request.path == "/api/v1/exchange/changes" and "schema_version" in request.args:
            request.args = ImmutableMultiDict(
                [(k, v) for k, v in request.args.items(multi=True) if k != "schema_version"])

    return app
