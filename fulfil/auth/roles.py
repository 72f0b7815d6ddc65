"""Role checks. Every state-changing view is wrapped in `roles_required`."""
from functools import wraps

from flask import abort
from flask_login import current_user, login_required

# Who may do what. Supervisors and admins can do everything staff can.
WORK_ORDERS = ("warehouse", "seller", "supervisor", "admin")
BULK_UPLOAD = ("seller", "supervisor", "admin")
SUPERVISE = ("supervisor", "admin")


def roles_required(*roles):
    def decorator(view):
        view.required_roles = roles  # read by the test that walks the URL map

        @wraps(view)
        @login_required
        def wrapped(*args, **kwargs):
            if current_user.role not in roles:
                abort(403)
            return view(*args, **kwargs)
        return wrapped
    return decorator
