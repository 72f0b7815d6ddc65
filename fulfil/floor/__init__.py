from flask import Blueprint

bp = Blueprint("floor", __name__, template_folder="templates", url_prefix="/floor")

from fulfil.floor import routes  # noqa: E402,F401
