"""Sync problems: failed pushes and imports, with the marketplace's words and a retry."""
from flask import Blueprint

bp = Blueprint("sync", __name__, template_folder="templates", url_prefix="/sync")

from fulfil.sync import routes  # noqa: E402,F401
