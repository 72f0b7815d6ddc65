from flask import Blueprint

bp = Blueprint("orders", __name__, template_folder="templates")

from fulfil.orders import routes  # noqa: E402,F401
