"""Admin pages: the sign-in audit, and people's accounts (create, roles, passwords, deactivate)."""
from flask import Blueprint

bp = Blueprint("admin", __name__, url_prefix="/admin", template_folder="templates")

from fulfil.admin import routes  # noqa: E402,F401
