"""Every blueprint of gateway/api is registered from the one table (gateway/api/__init__.py
BLUEPRINTS): a module with a blueprint that is not in it would serve nothing."""

from __future__ import annotations

import importlib
import pkgutil

import flask

import gateway.api
from gateway.api import BLUEPRINTS


def _modules_with_blueprints() -> set[str]:
    found = set()
    for info in pkgutil.iter_modules(gateway.api.__path__):
        module = importlib.import_module(f"gateway.api.{info.name}")
        if any(isinstance(getattr(module, attr, None), flask.Blueprint) for attr in ("blp", "bp")):
            found.add(info.name)
    return found


def test_every_blueprint_module_is_in_the_table():
    assert _modules_with_blueprints() == {name for name, _how in BLUEPRINTS}


def test_the_table_is_what_the_app_serves(app):
    registered = set(app.blueprints)
    for name, how in BLUEPRINTS:
        module = importlib.import_module(f"gateway.api.{name}")
        blueprint = module.blp if how == "api" else module.bp
        assert blueprint.name in registered, name
