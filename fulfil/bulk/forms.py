from flask import current_app
from flask_wtf import FlaskForm
from flask_wtf.file import FileField
from wtforms import BooleanField, SelectField, TextAreaField

from fulfil.bulk.parsing import (FIELDS, REQUIRED, Limits, ParseError, read_limited, read_pasted, read_upload,
                                 too_large)


class UploadForm(FlaskForm):
    """Paste or a file. Validating reads it: `sheet` holds the rows when it is valid."""
    pasted = TextAreaField("Paste rows from your spreadsheet")
    file = FileField("…or upload a CSV or Excel (.xlsx) file")

    sheet = None

    def validate(self, extra_validators=None):
        if not super().validate(extra_validators):
            return False
        config = current_app.config
        limit, limits = config["BULK_MAX_BYTES"], Limits.from_config(config)
        max_rows = config["BULK_MAX_ROWS"]
        upload = self.file.data
        field = self.file if upload else self.pasted
        try:
            if upload:
                data = read_limited(upload, limit)
                self.sheet = read_upload(data, upload.filename or "", max_rows, limits)
            elif (self.pasted.data or "").strip():
                if len(self.pasted.data.encode("utf-8")) > limit:
                    raise ParseError(too_large(limit))
                self.sheet = read_pasted(self.pasted.data, max_rows, limits)
            else:
                raise ParseError("Paste the rows from your spreadsheet, or choose a file.")
        except ParseError as exc:
            field.errors.append(str(exc))
            return False
        return True

    @property
    def filename(self):
        if not self.file.data:
            return ""
        # What the browser sent, minus control characters (PostgreSQL refuses NULs).
        name = "".join(ch for ch in self.file.data.filename or "" if ch.isprintable())
        return (name or "upload")[:255]


FIELD_CHOICES = {"": "— ignore this column —", **FIELDS}


class ColumnsForm(FlaskForm):
    """Which field each column holds: `columns_form` adds one select per column."""
    has_header = BooleanField("The first row holds column names")
    width = 0  # columns of the upload
    row_total = 0  # rows of the upload, the first included

    def column_fields(self):
        return [self[f"column_{index}"] for index in range(self.width)]

    def validate(self, extra_validators=None):
        if not super().validate(extra_validators):
            return False
        chosen = [field.data for field in self.column_fields() if field.data]
        twice = sorted({name for name in chosen if chosen.count(name) > 1})
        missing = [FIELDS[name] for name in REQUIRED if name not in chosen]
        if twice:
            self.form_errors.append(f"{', '.join(FIELDS[name] for name in twice)}: choose it for "
                                    "one column only.")
        if missing:
            self.form_errors.append(f"Choose the column that holds: {', '.join(missing)}.")
        if self.has_header.data and self.row_total < 2:
            self.form_errors.append("There is just one row: it cannot be column names too.")
        return not self.form_errors

    @property
    def mapping(self):
        return {field.data: index for index, field in enumerate(self.column_fields()) if field.data}


def columns_form(upload):
    """The mapping form for an upload, starting from its current mapping."""
    by_index = {index: name for name, index in upload.mapping.items()}
    width = max(len(row["cells"]) for row in upload.rows)

    class UploadColumnsForm(ColumnsForm):
        pass

    UploadColumnsForm.width, UploadColumnsForm.row_total = width, len(upload.rows)
    for index in range(width):
        setattr(UploadColumnsForm, f"column_{index}",
                SelectField(f"Column {index + 1}", choices=FIELD_CHOICES, default=by_index.get(index, "")))
    return UploadColumnsForm(has_header=upload.has_header)


class OptionsForm(FlaskForm):
    acknowledge = BooleanField("Acknowledge new orders too (Walmart and Wish ship acknowledged "
                               "orders only)")
