"""The Money page: delivered but not paid, paid less than expected, the payout calendar;
CSV/XLSX export of each; the money card on the order page. Everything here only reads
(the clock's money-sync job fills the table, see fulfil.money.service)."""
from flask import Response, abort, render_template, request

from fulfil.auth.roles import roles_required
from fulfil.money import bp, service
from fulfil.money.export import as_csv, as_xlsx, table
from fulfil.money.forms import MoneyForm
from fulfil.timeutil import to_local, utcnow

MONEY_ROLES = ("seller", "supervisor", "admin")
LISTS = {"unpaid": "Delivered but not paid", "short": "Paid less than expected", "calendar": "Payout calendar"}
FORMATS = {"csv": "text/csv; charset=utf-8",
           "xlsx": "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet"}


@bp.app_template_global("money_card")
def money_card(order):
    """The order's money for its page, or None where its marketplace reports none."""
    if order.marketplace not in service.money_kinds():
        return None
    return {"money": service.order_money(order), "expected": service.expected(order),
            "rate": service.commission_rate(order.marketplace)}


def _lists(form, now):
    return {"unpaid": service.unpaid_delivered(now, form.days.data), "short": service.paid_less(now),
            "calendar": service.payout_calendar(now)}


def _form_or_400():
    form = MoneyForm(request.args)
    if not form.validate():
        abort(Response(render_template("money/index.html", form=form, messages=form.error_messages(),
                                       LISTS=LISTS), status=400))
    return form


@bp.route("/")
@roles_required(*MONEY_ROLES)
def index():
    form = _form_or_400()
    now = utcnow()
    return render_template("money/index.html", form=form, now=now, lists=_lists(form, now), LISTS=LISTS,
                           accounts=service.accounts_with_money(), rates=service.commission_rate)


@bp.route("/export/<key>.<fmt>")
@roles_required(*MONEY_ROLES)
def export(key, fmt):
    if key not in LISTS or fmt not in FORMATS:
        abort(404)
    form = _form_or_400()
    now = utcnow()
    headers, rows = table(key, _lists(form, now)[key])
    body = as_csv(headers, rows) if fmt == "csv" else as_xlsx(LISTS[key], headers, rows)
    filename = f"money-{key}-{to_local(now):%Y-%m-%d}.{fmt}"
    return Response(body, mimetype=FORMATS[fmt],
                    headers={"Content-Disposition": f'attachment; filename="{filename}"'})
