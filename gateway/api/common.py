"""Pieces every resource blueprint uses: the service context, paging, masking choices."""

from __future__ import annotations

from typing import Any, Iterable

from flask import current_app
from marshmallow import Schema, fields, validate

from gateway.access import current_caller
from gateway.privacy import vault
from gateway.services.context import ServiceContext
from gateway.standard import engine
from gateway.store import get_session

# OpenAPI: protected operations declare this scheme (dev tokens now, signatures later).
BEARER = [{"bearerAuth": []}]
# The exchange's operations: a signed request (RFC 9421), or a development token.
SIGNED = [{"httpSignature": []}, {"bearerAuth": []}]


def service_context() -> ServiceContext:
    """A context for one request: authenticates the caller first (401 when unknown)."""
    return ServiceContext(session=get_session(), caller=current_caller(), engine=engine(),
                          vault=vault(), config=current_app.config)


class PageArgs(Schema):
    page = fields.Integer(load_default=1, validate=validate.Range(min=1, max=100_000))
    per_page = fields.Integer(load_default=20, validate=validate.Range(min=1, max=100))


class PageMeta(Schema):
    page = fields.Integer()
    per_page = fields.Integer()
    total = fields.Integer()


def page_of(items: Iterable[Any], page: int, per_page: int, total: int) -> dict[str, Any]:
    return {"items": list(items), "page": page, "per_page": per_page, "total": total}


class DecisionSchema(Schema):
    """A reviewer's decision with an optional note."""

    note = fields.String(load_default=None, validate=validate.Length(max=500))
