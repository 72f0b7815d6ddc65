from flask import render_template

from fulfil.auth.roles import WORK_ORDERS, roles_required
from fulfil.orders import bp


@bp.route("/")
@roles_required(*WORK_ORDERS)
def index():
    return render_template("orders/index.html")
