"""Catalogue pages: list and search, add, edit, import from CSV/XLSX.

Everyone who works orders may look products up; sellers, supervisors and admins change them.
"""
from flask import abort, current_app, flash, redirect, render_template, request, url_for

from fulfil.auth.roles import BULK_UPLOAD, WORK_ORDERS, roles_required
from fulfil.bulk.parsing import Limits, ParseError, megabytes, read_limited, read_upload
from fulfil.catalogue import bp
from fulfil.catalogue.forms import ImportForm, ProductForm
from fulfil.catalogue.importing import import_sheet
from fulfil.catalogue.models import BARCODE_KINDS, Product
from fulfil.catalogue.service import CatalogueError, save_product, search_products
from fulfil.extensions import db
from fulfil.templating import render

EDIT_CATALOGUE = BULK_UPLOAD  # seller, supervisor, admin
MAX_IMPORT_ROWS = 20_000


@bp.route("/")
@roles_required(*WORK_ORDERS)
def index():
    q = request.args.get("q", "")[:120]
    after = request.args.get("after", "")[:120] or None
    products, next_after = search_products(q, after)
    return render("catalogue/index.html", "catalogue/_rows.html", products=products, q=q,
                  next_after=next_after, can_edit=_can_edit(), BARCODE_KINDS=BARCODE_KINDS)


def _can_edit():
    from flask_login import current_user
    return current_user.role in EDIT_CATALOGUE


@bp.route("/new", methods=["GET", "POST"])
@roles_required(*EDIT_CATALOGUE)
def new():
    form = ProductForm()
    if request.method == "GET":
        form.sku.data = request.args.get("sku", "")[:120]
    if form.validate_on_submit():
        try:
            product = save_product(form.product_input())
            db.session.commit()
        except CatalogueError as exc:
            db.session.rollback()
            form.show_errors(exc.errors)
        else:
            flash(f"Product {product.sku} added.", "success")
            return redirect(url_for(".index", q=product.sku), 303)
    return render_template("catalogue/edit.html", form=form, product=None), (422 if form.errors else 200)


@bp.route("/<path:sku>/edit", methods=["GET", "POST"])
@roles_required(*EDIT_CATALOGUE)
def edit(sku):
    product = db.session.get(Product, sku)
    if product is None:
        abort(404)
    form = ProductForm()
    if request.method == "GET":
        form.fill(product)
    elif form.validate_on_submit():
        try:
            save_product(form.product_input(), product)
            db.session.commit()
        except CatalogueError as exc:
            db.session.rollback()
            product = db.session.get(Product, sku)
            form.show_errors(exc.errors)
        else:
            flash(f"Product {product.sku} saved.", "success")
            return redirect(url_for(".index", q=product.sku), 303)
    return render_template("catalogue/edit.html", form=form, product=product), (422 if form.errors else 200)


@bp.route("/<path:sku>")
@roles_required(*WORK_ORDERS)
def show(sku):
    product = db.session.get(Product, sku)
    if product is None:
        abort(404)
    return render_template("catalogue/show.html", product=product, can_edit=_can_edit(),
                           BARCODE_KINDS=BARCODE_KINDS)


@bp.route("/import", methods=["GET", "POST"])
@roles_required(*EDIT_CATALOGUE)
def import_products():
    form = ImportForm()
    errors = []
    if form.validate_on_submit():
        upload = form.file.data
        try:
            data = read_limited(upload, current_app.config["BULK_MAX_BYTES"]) if upload else b""
            if not data:
                raise ParseError("Choose a CSV or Excel file to upload.")
            result = import_sheet(read_upload(data, upload.filename or "", MAX_IMPORT_ROWS,
                                              Limits.from_config(current_app.config)))
        except ParseError as exc:
            errors = [str(exc)]
        else:
            if result.errors:
                db.session.rollback()
                errors = result.errors
            else:
                db.session.commit()
                flash(f"{_count(result.added, 'product')} added, {_count(result.updated, 'product')} updated.",
                      "success")
                return redirect(url_for(".index"), 303)
    elif form.errors:
        errors = [m for messages in form.errors.values() for m in messages]
    return render_template("catalogue/import.html", form=form, errors=errors,
                           size_limit=megabytes(current_app.config["BULK_MAX_BYTES"])), (422 if errors else 200)


def _count(number, noun):
    return f"{number:,} {noun}{'' if number == 1 else 's'}"
