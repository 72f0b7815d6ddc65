from flask import render_template

from fulfil.auth.roles import WORK_ORDERS, roles_required
from fulfil.sync import bp


@bp.route("/problems")
@roles_required(*WORK_ORDERS)
def problems():
    return render_template("sync/problems.html")
