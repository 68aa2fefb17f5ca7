"""志愿服务数据交换网关 — the volunteer-service data exchange gateway.

Nothing runs at import time: :func:`create_app` builds everything. It is imported on first
use (PEP 562), so that importing a part that needs no web app — the client SDK
(gateway/exchange/client.py), the engine, the JWK reader — loads neither Flask nor SQLAlchemy.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from gateway.app import create_app

__all__ = ["create_app"]


def __getattr__(name: str) -> Any:
    if name == "create_app":
        from gateway.app import create_app

        return create_app
    raise AttributeError(f"module 'gateway' has no attribute {name!r}")
