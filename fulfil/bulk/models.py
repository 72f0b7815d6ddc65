"""A bulk upload kept server-side: the rows as read, the preview's verdicts, the outcomes.

Everything the seller sent is stored before anything is checked, so a mapping step, a
reload of the preview or a worker picking the upload up later never loses a row.
"""
from sqlalchemy import Index
from sqlalchemy.orm import deferred

from fulfil.extensions import db
from fulfil.timeutil import utcnow

# mapping: the seller must say which column is which; preview: checked, nothing changed
# yet; queued/applying: a worker (or the request) is changing orders; done; failed: applying
# stopped half-way (what was applied stays; applying again finishes the rest).
STATE_LABELS = {"mapping": "Columns to choose", "preview": "Checked, not applied",
                "queued": "Waiting for a worker", "applying": "Applying", "done": "Applied",
                "failed": "Stopped"}
RUNNING = frozenset({"queued", "applying"})


class Upload(db.Model):
    __tablename__ = "bulk_uploads"
    id = db.Column(db.Integer, primary_key=True)
    user_id = db.Column(db.Integer, db.ForeignKey("users.id"), nullable=False)
    filename = db.Column(db.String(255), nullable=False, default="")  # "" for pasted text
    encoding = db.Column(db.String(40), nullable=False, default="")
    delimiter = db.Column(db.String(12), nullable=False, default="")  # tab | semicolon | comma | "" (xlsx)
    # The three big JSON columns load only when used: lists of uploads and the progress
    # bar never read 10,000 rows.
    # [{"line": row number in the file, "cells": [str, ...]}]; the first row may be headers.
    rows = deferred(db.Column(db.JSON, nullable=False))
    verdicts = deferred(db.Column(db.JSON))  # one per data row, see fulfil.bulk.preview
    outcomes = deferred(db.Column(db.JSON))  # one per data row once applied, see fulfil.bulk.apply
    row_count = db.Column(db.Integer, nullable=False, default=0)  # data rows (headers not counted)
    has_header = db.Column(db.Boolean, nullable=False, default=True)
    mapping = db.Column(db.JSON, nullable=False, default=dict)  # field -> column index
    acknowledge = db.Column(db.Boolean, nullable=False, default=False)  # acknowledge new orders too
    state = db.Column(db.String(12), nullable=False, default="mapping")
    done = db.Column(db.Integer, nullable=False, default=0)  # rows the apply has been through
    to_apply = db.Column(db.Integer, nullable=False, default=0)  # rows the apply goes through
    error = db.Column(db.Text)  # why applying stopped, when state == 'failed'
    applied_by_id = db.Column(db.Integer, db.ForeignKey("users.id"))
    created_at = db.Column(db.DateTime, nullable=False, default=utcnow)
    applied_at = db.Column(db.DateTime)
    finished_at = db.Column(db.DateTime)

    user = db.relationship("User", foreign_keys=[user_id])
    applied_by = db.relationship("User", foreign_keys=[applied_by_id])
    __table_args__ = (Index("ix_bulk_uploads_user_created", "user_id", "created_at"),)

    @property
    def data_rows(self):
        return self.rows[1:] if self.has_header else self.rows

    @property
    def header(self):
        return self.rows[0]["cells"] if self.has_header else None

    @property
    def is_running(self):
        return self.state in RUNNING

    @property
    def label(self):
        return self.filename or "Pasted rows"
