"""Bulk tracking entry: paste or upload → (map columns) → preview → apply → results."""
from flask import Response, abort, current_app, flash, redirect, render_template, request, url_for
from flask_login import current_user

from fulfil.auth.roles import BULK_UPLOAD, SUPERVISE, roles_required
from fulfil.bulk import bp
from fulfil.bulk.apply import OUTCOMES, begin
from fulfil.bulk.forms import OptionsForm, UploadForm, columns_form
from fulfil.bulk.models import STATE_LABELS, Upload
from fulfil.bulk.parsing import megabytes
from fulfil.bulk.preview import VERDICTS, counts, preview, receive
from fulfil.bulk.results import SYNC_LABELS, error_report, filters, is_waiting, row_page, sync_summary
from fulfil.extensions import db
from fulfil.inputs import takes_raw_text
from fulfil.templating import is_htmx

RECENT = 10


@bp.context_processor
def _labels():
    return {"STATE_LABELS": STATE_LABELS, "VERDICTS": VERDICTS, "OUTCOMES": OUTCOMES,
            "SYNC_LABELS": SYNC_LABELS}


def _upload_or_404(upload_id):
    """Sellers see their own uploads; supervisors and admins everyone's."""
    upload = db.session.get(Upload, upload_id)
    if upload is None or (upload.user_id != current_user.id and current_user.role not in SUPERVISE):
        abort(404)
    return upload


NOT_CHECKED = ("This upload's rows have not been checked yet: choose its columns first "
               "(Bulk tracking → the upload → Columns).")
NOT_APPLIED = "Nothing of this upload has been applied yet, so no marketplace has anything to confirm."


def _checked_upload_or_404(upload_id):
    """An upload whose rows have been checked (the partials and the report show verdicts);
    one still at the column step is a 409 that says so."""
    upload = _upload_or_404(upload_id)
    if upload.state == "mapping":
        abort(409, NOT_CHECKED)
    return upload


def _to_show(upload):
    return redirect(url_for("bulk.show", upload_id=upload.id), 303)


def _context(upload, confirmations=True):
    """What the upload's partials show: the summary, the tab and page of rows asked for
    and, once applied (unless not wanted), the marketplaces' confirmations."""
    tabs = filters(upload)
    show = request.args.get("show", "all")
    if show not in {key for key, _, _ in tabs}:
        show = "all"
    rows, page, pages = row_page(upload, show, request.args.get("page", 1, type=int))
    context = {"upload": upload, "tabs": tabs, "show": show, "rows": rows, "page": page,
               "pages": pages, "counts": counts(upload.verdicts)}
    if confirmations and upload.outcomes is not None:
        summary = sync_summary(upload)
        context.update(summary=summary, waiting=is_waiting(summary))
    return context


@bp.route("/", methods=["GET", "POST"])
@takes_raw_text  # the paste is a spreadsheet's text: the parser deals with stray NULs
@roles_required(*BULK_UPLOAD)
def index():
    form = UploadForm()
    if form.validate_on_submit():
        upload = receive(form.sheet, current_user, form.filename)
        db.session.commit()
        return _to_show(upload)
    uploads = db.session.scalars(db.select(Upload).where(Upload.user_id == current_user.id)
                                 .order_by(Upload.id.desc()).limit(RECENT)).all()
    config = current_app.config
    return render_template("bulk/index.html", form=form, uploads=uploads,
                           size_limit=megabytes(config["BULK_MAX_BYTES"]),
                           row_limit=config["BULK_MAX_ROWS"]), 422 if form.errors else 200


@bp.route("/<int:upload_id>")
@roles_required(*BULK_UPLOAD)
def show(upload_id):
    upload = _upload_or_404(upload_id)
    if upload.state == "mapping":
        return redirect(url_for("bulk.columns", upload_id=upload.id))
    return render_template("bulk/show.html", options=OptionsForm(acknowledge=upload.acknowledge),
                           **_context(upload))


@bp.route("/<int:upload_id>/columns", methods=["GET", "POST"])
@roles_required(*BULK_UPLOAD)
def columns(upload_id):
    upload = _upload_or_404(upload_id)
    if upload.state not in ("mapping", "preview"):
        flash("This upload has been applied: its columns can no longer change.", "warning")
        return _to_show(upload)
    form = columns_form(upload)
    if form.validate_on_submit():
        upload.mapping, upload.has_header = form.mapping, form.has_header.data
        preview(upload)
        db.session.commit()
        return _to_show(upload)
    return (render_template("bulk/columns.html", upload=upload, form=form, samples=upload.rows[:5]),
            422 if form.errors else 200)


@bp.route("/<int:upload_id>/check", methods=["POST"])
@roles_required(*BULK_UPLOAD)
def check(upload_id):
    """Check the rows again (the orders may have changed), with the options chosen."""
    upload = _checked_upload_or_404(upload_id)
    if upload.state != "preview":
        abort(409, "This upload has been applied meanwhile (in another tab?): there is nothing "
                   "to check any more. Reload to see its results.")
    options = OptionsForm()
    if options.validate_on_submit():
        upload.acknowledge = options.acknowledge.data
        preview(upload)
        db.session.commit()
    if not is_htmx():
        return _to_show(upload)
    return render_template("bulk/_preview.html", options=options, **_context(upload))


@bp.route("/<int:upload_id>/apply", methods=["POST"])
@roles_required(*BULK_UPLOAD)
def apply(upload_id):
    upload = _checked_upload_or_404(upload_id)
    # begin() commits per order (one refused order never blocks the others), so there is
    # no single commit here.
    if not begin(upload, current_user):
        flash("This upload is already being applied or has been applied.", "warning")
    return _to_show(upload)


@bp.route("/<int:upload_id>/progress")
@roles_required(*BULK_UPLOAD)
def progress(upload_id):
    upload = _checked_upload_or_404(upload_id)
    # While running, the fragment is just the bar: polled twice a second, it reads no rows.
    context = {"upload": upload} if upload.is_running else _context(upload)
    return render_template("bulk/_progress.html", **context)


@bp.route("/<int:upload_id>/rows")
@roles_required(*BULK_UPLOAD)
def rows(upload_id):
    return render_template("bulk/_rows.html", **_context(_checked_upload_or_404(upload_id),
                                                         confirmations=False))


@bp.route("/<int:upload_id>/confirmations")
@roles_required(*BULK_UPLOAD)
def confirmations(upload_id):
    upload = _checked_upload_or_404(upload_id)
    if upload.outcomes is None:
        abort(409, NOT_APPLIED)
    return render_template("bulk/_confirmations.html", **_context(upload))


@bp.route("/<int:upload_id>/errors.csv")
@roles_required(*BULK_UPLOAD)
def errors_csv(upload_id):
    upload = _checked_upload_or_404(upload_id)
    # The BOM makes Excel read the file as UTF-8 (Cyrillic order notes stay readable).
    return Response("\ufeff" + error_report(upload), mimetype="text/csv",
                    headers={"Content-Disposition": f'attachment; filename="bulk-{upload.id}-errors.csv"'})
