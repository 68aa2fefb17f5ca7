"""Placeholder blueprint for certificates (replaced by its resource module in this change)."""

from flask_smorest import Blueprint

blp = Blueprint("certificates", __name__, url_prefix="/api/v1")
