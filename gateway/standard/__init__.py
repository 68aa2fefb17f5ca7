"""The standard in code: schema registry, code and region tables, semantic rules, the engine."""

from __future__ import annotations

from flask import Flask, current_app

from gateway.standard.engine import Engine

__all__ = ["Engine", "init_app", "engine"]


def init_app(app: Flask) -> None:
    """Build the validation engine once per app from its settings."""
    app.extensions["standard.engine"] = Engine.from_config(app.config)


def engine() -> Engine:
    """The current app's validation engine."""
    return current_app.extensions["standard.engine"]
