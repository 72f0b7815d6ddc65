"""What the pages show about an upload: rows page by page, the marketplaces' confirmation
of what was applied, and the error report a seller fixes and uploads again."""
import csv
import io
import math
from dataclasses import dataclass

from fulfil.bulk.apply import OUTCOMES
from fulfil.bulk.parsing import FIELDS, recognise_headers
from fulfil.bulk.lookup import among, chunks
from fulfil.bulk.preview import VERDICTS
from fulfil.csvcell import neutralise
from fulfil.extensions import db
from fulfil.models import OutboxEntry

PAGE_SIZE = 100
# A row's marketplace state is the worst of its outbox entries' states.
_WORST_FIRST = ("failed", "sending", "pending", "confirmed")
SYNC_LABELS = {"failed": "Refused by the marketplace", "sending": "Sending…",
               "pending": "Waiting for the marketplace", "confirmed": "Confirmed"}


@dataclass
class RowView:
    line: int
    values: dict  # field -> cell text
    verdict: dict
    outcome: dict | None
    sync_state: str | None = None
    sync_error: str | None = None


def filters(upload):
    """(key, label, count) tabs: by verdict before applying, by outcome after."""
    if upload.outcomes is None:
        keys, labels, counted = VERDICTS, VERDICTS, [v["verdict"] for v in upload.verdicts]
    else:
        keys, labels, counted = OUTCOMES, OUTCOMES, [o["outcome"] for o in upload.outcomes if o]
    return [("all", "All rows", len(upload.verdicts))] + [
        (key, labels[key], counted.count(key)) for key in keys]


def row_page(upload, show="all", page=1):
    """One page of RowViews for the tab `show`; (rows, page, page count)."""
    outcomes = upload.outcomes or [None] * len(upload.verdicts)
    if show == "all":
        indexes = range(len(upload.verdicts))
    elif upload.outcomes is None:
        indexes = [i for i, v in enumerate(upload.verdicts) if v["verdict"] == show]
    else:
        indexes = [i for i, o in enumerate(outcomes) if o and o["outcome"] == show]
    pages = max(1, math.ceil(len(indexes) / PAGE_SIZE))
    page = min(max(page, 1), pages)
    data = upload.data_rows
    rows = [RowView(line=data[i]["line"], values=_values(upload, data[i]["cells"]),
                    verdict=upload.verdicts[i], outcome=outcomes[i])
            for i in indexes[(page - 1) * PAGE_SIZE:page * PAGE_SIZE]]
    states = entry_states(eid for row in rows if row.outcome for eid in row.outcome["entries"])
    for row in rows:
        if row.outcome and row.outcome["entries"]:
            row.sync_state, row.sync_error = _worst([states.get(e) for e in row.outcome["entries"]])
    return rows, page, pages


def _values(upload, cells):
    return {name: cells[index] if index < len(cells) else "" for name, index in upload.mapping.items()}


def entry_states(entry_ids):
    """{outbox entry id: (state, last_error)}, in batches."""
    states = {}
    for chunk in chunks(sorted(set(entry_ids))):
        query = (db.select(OutboxEntry.id, OutboxEntry.state, OutboxEntry.last_error)
                 .where(among(OutboxEntry.id, chunk)))
        states.update((entry_id, (state, error)) for entry_id, state, error in db.session.execute(query))
    return states


def _worst(states):
    present = [s for s in states if s is not None]
    for state in _WORST_FIRST:
        for found, error in present:
            if found == state:
                return state, error
    return None, None


def sync_summary(upload):
    """{state: number of applied rows in it} over the whole upload."""
    outcomes = [o for o in upload.outcomes or [] if o and o["entries"]]
    states = entry_states(e for o in outcomes for e in o["entries"])
    summary = dict.fromkeys(_WORST_FIRST, 0)
    for outcome in outcomes:
        state, _ = _worst([states.get(e) for e in outcome["entries"]])
        if state:
            summary[state] += 1
    return summary


def is_waiting(summary):
    return bool(summary["pending"] or summary["sending"])


def error_rows(upload):
    """Indexes of the rows to fix: refused at apply, or errors in the preview."""
    if upload.outcomes is not None:
        return [i for i, o in enumerate(upload.outcomes) if o and o["outcome"] == "error"]
    return [i for i, v in enumerate(upload.verdicts) if v["verdict"] == "error"]


def error_report(upload):
    """CSV text: the seller's own rows that need fixing, as they were, plus a reason column.

    A reason column already there (a report uploaded again) is refilled rather than added
    twice. Without headers in the upload, the columns get fulfil's names so the fixed
    report is understood without the mapping step.
    """
    width = max(len(row["cells"]) for row in upload.rows)
    if upload.has_header:
        header = upload.header + [""] * (width - len(upload.header))
    else:
        names = {index: FIELDS[name].split(" (")[0] for name, index in upload.mapping.items()}
        header = [names.get(i, f"Column {i + 1}") for i in range(width)]
    reason_at = recognise_headers(header).get("reason")
    if reason_at is None:
        header, reason_at = header + ["reason"], len(header)
    outcomes = upload.outcomes or []
    out = io.StringIO()
    writer = csv.writer(out, delimiter=";" if upload.delimiter == "semicolon" else ",")
    writer.writerow([neutralise(cell) for cell in header])
    data = upload.data_rows
    for index in error_rows(upload):
        cells = data[index]["cells"] + [""] * (len(header) - len(data[index]["cells"]))
        cells[reason_at] = (outcomes[index] if outcomes else upload.verdicts[index])["reason"] or ""
        writer.writerow([neutralise(cell) for cell in cells])
    return out.getvalue()

