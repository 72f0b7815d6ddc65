"""Money: what each marketplace pays, matched to orders (payouts, shortfalls, the calendar)."""
from flask import Blueprint

bp = Blueprint("money", __name__, template_folder="templates", url_prefix="/money")

from fulfil.money import routes  # noqa: E402,F401
