"""Placeholder blueprint for volunteers (replaced by its resource module in this change)."""

from flask_smorest import Blueprint

blp = Blueprint("volunteers", __name__, url_prefix="/api/v1")
