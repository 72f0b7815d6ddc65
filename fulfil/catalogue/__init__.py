from flask import Blueprint

bp = Blueprint("catalogue", __name__, template_folder="templates", url_prefix="/catalogue")

from fulfil.catalogue import routes  # noqa: E402,F401
