"""What the domain services raise; the HTTP layer turns each into problem+json."""

from __future__ import annotations

from typing import Any, Iterable

from gateway.standard.issues import Issue


class ServiceError(Exception):
    status = 400
    slug = "bad-request"
    title = "Bad request"

    def __init__(self, detail: str, issues: Iterable[Issue] = (), **extra: Any):
        super().__init__(detail)
        self.detail = detail
        self.issues = list(issues)
        self.extra = extra


class NotFound(ServiceError):
    status, slug, title = 404, "not-found", "Not found"


class OutOfScope(ServiceError):
    """The caller's scope (region, teams, permissions) does not cover this."""

    status, slug, title = 403, "out-of-scope", "Outside the caller's scope"


class Conflict(ServiceError):
    """The request contradicts the store's state (duplicate, full post, wrong status)."""

    status, slug, title = 409, "conflict", "Conflict"


class Invalid(ServiceError):
    """The record breaks the standard's schema or rules, or a rule across records."""

    status, slug, title = 422, "invalid-record", "Invalid record"
