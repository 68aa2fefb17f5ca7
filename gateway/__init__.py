"""志愿服务数据交换网关 — the volunteer-service data exchange gateway.

Nothing runs at import time: :func:`create_app` builds everything. It is imported on first
use (``gateway.create_app``, ``gunicorn 'gateway:create_app()'``), so ``import gateway.cli``
does not import Flask.
"""

__all__ = ["create_app"]


def __getattr__(name: str):
    if name == "create_app":
        from gateway.app import create_app

        return create_app
    raise AttributeError(f"module 'gateway' has no attribute {name!r}")
