"""Placeholder blueprint for teams (replaced by its resource module in this change)."""

from flask_smorest import Blueprint

blp = Blueprint("teams", __name__, url_prefix="/api/v1")
