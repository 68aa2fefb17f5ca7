"""Placeholder blueprint for statistics (replaced by its resource module in this change)."""

from flask_smorest import Blueprint

blp = Blueprint("statistics", __name__, url_prefix="/api/v1")
