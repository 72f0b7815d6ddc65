"""The supervisor's dashboard: working lists across marketplaces, sync and import state,
statistics and CSV export.

Everything here only reads. Settings travel in the query string, so a wall screen's URL
(`?refresh=60`) keeps them.
"""
from flask import Response, abort, render_template, request, stream_with_context

from fulfil.auth.roles import SUPERVISE, roles_required
from fulfil.supervisor import bp
from fulfil.supervisor.chart import volume_chart
from fulfil.supervisor.export import csv_chunks
from fulfil.supervisor.forms import PERIODS, DashboardForm
from fulfil.supervisor.queries import account_states, marketplace_totals, section, work_lists
from fulfil.supervisor.stats import format_duration, format_rate, period_stats
from fulfil.templating import is_htmx
from fulfil.timeutil import local_zone, to_local, utcnow


@bp.context_processor
def _helpers():
    return {"format_duration": format_duration, "format_rate": format_rate, "PERIODS": PERIODS}


def _invalid(form):
    """400 naming what is wrong in the query string; the page keeps the form to correct it."""
    messages = form.error_messages()
    if is_htmx():
        return (render_template("_error.html", message=" ".join(messages)), 400,
                {"HX-Retarget": "#flash", "HX-Reswap": "innerHTML"})
    return render_template("supervisor/index.html", form=form, messages=messages), 400


@bp.route("/")
@roles_required(*SUPERVISE)
def index():
    form = DashboardForm(request.args)
    if not form.validate():
        return _invalid(form)
    now = utcnow()
    lists = work_lists(now, form.stuck_days.data)
    accounts = account_states(lists)
    board = {"form": form, "now": now, "accounts": accounts, "totals": marketplace_totals(accounts),
             "sections": {key: section(work_list, now) for key, work_list in lists.items()}}
    if is_htmx():  # the wall screen's poll: the lists change minute to minute, statistics do not
        return render_template("supervisor/_lists.html", **board)
    stats = period_stats(form.period.data, now)
    return render_template("supervisor/index.html", stats=stats, chart=volume_chart(stats.days), **board)


@bp.route("/export/<key>.csv")
@roles_required(*SUPERVISE)
def export(key):
    form = DashboardForm(request.args)
    if not form.validate():
        return _invalid(form)
    now = utcnow()
    work_list = work_lists(now, form.stuck_days.data).get(key)
    if work_list is None:
        abort(404)
    filename = f"{key.replace('_', '-')}-{to_local(now):%Y-%m-%d}.csv"
    chunks = csv_chunks(work_list, now, local_zone())
    return Response(stream_with_context(chunks), mimetype="text/csv",
                    headers={"Content-Disposition": f'attachment; filename="{filename}"'})
