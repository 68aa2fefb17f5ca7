"""Placeholder blueprint for projects (replaced by its resource module in this change)."""

from flask_smorest import Blueprint

blp = Blueprint("projects", __name__, url_prefix="/api/v1")
