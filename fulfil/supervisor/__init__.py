from flask import Blueprint

bp = Blueprint("supervisor", __name__, template_folder="templates", url_prefix="/supervisor")

from fulfil.supervisor import routes  # noqa: E402,F401
