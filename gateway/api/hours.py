"""Placeholder blueprint for hours (replaced by its resource module in this change)."""

from flask_smorest import Blueprint

blp = Blueprint("hours", __name__, url_prefix="/api/v1")
