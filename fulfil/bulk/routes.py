from flask import render_template

from fulfil.auth.roles import BULK_UPLOAD, roles_required
from fulfil.bulk import bp


@bp.route("/")
@roles_required(*BULK_UPLOAD)
def index():
    return render_template("bulk/index.html")
