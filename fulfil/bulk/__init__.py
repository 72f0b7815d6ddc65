"""Bulk tracking entry: paste or upload tracking numbers for many orders at once."""
from flask import Blueprint

bp = Blueprint("bulk", __name__, template_folder="templates", static_folder="static",
               url_prefix="/bulk")

from fulfil.bulk import models, routes  # noqa: E402,F401  (the upload table, the views)
