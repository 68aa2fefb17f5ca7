"""志愿服务数据交换网关 — the volunteer-service data exchange gateway.

Nothing runs at import time: :func:`create_app` builds everything.
"""

from gateway.app import create_app

__all__ = ["create_app"]
