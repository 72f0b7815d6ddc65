from flask import render_template

from fulfil.auth.roles import SUPERVISE, roles_required
from fulfil.supervisor import bp


@bp.route("/")
@roles_required(*SUPERVISE)
def index():
    return render_template("supervisor/index.html")
