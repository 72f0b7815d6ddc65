"""Forms of the order console.

They check the shape of what a person sent (choices, numbers, lengths); the rules of the
trade — tracking formats, what each marketplace accepts, what an order allows — stay in
fulfil.actions, whose InvalidInput messages land on the same fields (`show_errors`).
"""
from flask_wtf import FlaskForm
from wtforms import (DateTimeLocalField, FieldList, Form, FormField, IntegerField, SearchField,
                     SelectField, StringField, SubmitField, TextAreaField, URLField)
from wtforms.validators import InputRequired, Length, NumberRange, Optional, ValidationError
from wtforms.widgets import HiddenInput

from fulfil import marketplaces
from fulfil.actions import DEADLINE_RANGE, InvalidInput, Package, cancel_reasons
from fulfil.models import MARKETPLACE_LABELS
from fulfil.orders.labels import package_label
from fulfil.orders.queries import TABS, Cursor, OrderFilter
from fulfil.status import STATUS_LABELS
from fulfil.timeutil import local_zone, to_utc_naive
from fulfil.tracking import CARRIERS, url_problem

MAX_PACKAGES = 10
STALE_FORM = "This form is incomplete or out of date: reload the order and try again."


def _strip(value):
    return value.strip() if isinstance(value, str) else value


# -- the list's query string ---------------------------------------------------------

def _valid_cursor(form, field):
    try:
        Cursor.parse(field.data)
    except ValueError:
        raise ValidationError("The “Load more” link is damaged or out of date")


class ListForm(Form):
    """Tab, filters, search and paging position, read from the query string."""
    tab = SelectField("List", choices=TABS, default="new")
    marketplace = SelectField("Marketplace", default="",
                              choices={"": "All marketplaces", **MARKETPLACE_LABELS})
    account = SelectField("Account", default="")
    status = SelectField("Status", default="", choices={"": "Any status", **STATUS_LABELS})
    q = SearchField("Search or scan", default="", filters=[_strip],
                    validators=[Length(max=120, message="Search for at most 120 characters")])
    after = StringField(default="", filters=[_strip], validators=[Optional(), _valid_cursor])

    def __init__(self, formdata, accounts):
        super().__init__(formdata)
        self.account.choices = {"": "All accounts", **{str(a.id): a.name for a in accounts}}

    def problems(self):
        """Validate; a bad value falls back to its default and becomes a message to show."""
        if self.validate():
            return []
        messages = []
        for field in self:
            if field.errors:
                shown = field.raw_data[0] if field.raw_data else ""
                if isinstance(field, SelectField):
                    messages.append(f"{field.label.text} “{shown}” is unknown")
                else:
                    messages.extend(field.errors)
                field.data = field.default
        return messages

    def order_filter(self):
        return OrderFilter(tab=self.tab.data, marketplace=self.marketplace.data,
                           account_id=int(self.account.data) if self.account.data else None,
                           status=self.status.data, q=self.q.data or "")

    def cursor(self):
        return Cursor.parse(self.after.data) if self.after.data else None


# -- order actions -------------------------------------------------------------------

def form_prefix(order):
    """Field names carry the order id: several rows may have a form open at once."""
    return f"order{order.id}"


def carrier_choices(order):
    """Carriers this order's marketplace accepts; empty = recognise from the number."""
    return {"": "Recognise from the number", **{
        code: carrier.label for code, carrier in CARRIERS.items()
        if marketplaces.carrier_name(order.marketplace, code) is not None}}


class VersionField(IntegerField):
    """The order version the page was drawn from; anything but a number means a broken page."""
    widget = HiddenInput()

    def process_formdata(self, valuelist):
        try:
            super().process_formdata(valuelist)
        except ValueError:
            raise ValueError(STALE_FORM) from None


class ActionForm(FlaskForm):
    """An action on one order. Carries the order version the person saw (optimistic lock).

    The bare class is the form of one-tap actions (acknowledge, mark packed, delivered);
    subclasses with a `template` ask for details first.
    """
    template = None
    submit_label = None
    version = VersionField(validators=[InputRequired(STALE_FORM)])

    def __init__(self, order, *args, **kwargs):
        super().__init__(*args, prefix=form_prefix(order), **kwargs)
        self.order = order

    @classmethod
    def opened(cls, order, version, args):
        """A fresh form, as shown when the person taps the action's button."""
        return cls(order, formdata=None, version=version)

    def params(self):
        """Keyword arguments for actions.perform."""
        return {}

    def rearranged(self):
        """True when the person only changed the form itself (e.g. added a package)."""
        return False

    def extra_buttons(self):
        """Submit buttons shown after the main one (they change the form, not the order)."""
        return []

    def rebase(self, version):
        """Keep what was typed but carry a newer version (offered again after a conflict)."""
        self.version.data = version
        self.version.raw_data = [str(version)]

    def show_errors(self, errors):
        """Put InvalidInput messages (field name -> message) next to their fields."""
        for name, message in errors.items():
            if not _add_error(self, name, message):
                self.form_errors.append(message)

    def entered(self):
        """(label, value) of what the person typed, to show when the form is not offered again."""
        return list(_entered(self)) if self.is_submitted() else []


def _add_error(form, name, message):
    field = form._fields.get(name)
    if field is None:
        return False
    field.errors = [*field.errors, message]  # a tuple until the field is validated
    return True


def _entered(fields):
    for field in fields:
        if isinstance(field, FieldList):
            for entry in field:
                yield from _entered(entry.form if isinstance(entry, FormField) else [entry])
        elif isinstance(field, FormField):
            yield from _entered(field.form)
        elif not isinstance(field.widget, HiddenInput) and not isinstance(field, SubmitField) \
                and field.data not in (None, ""):
            value = field.choices.get(field.data, field.data) if isinstance(field, SelectField) else field.data
            yield field.label.text, value


def _web_address(form, field):
    problem = url_problem(field.data)
    if problem:
        raise ValidationError(problem)


class TrackingFields:
    """Carrier + tracking number (+ tracking page for carriers outside a marketplace's list)."""
    carrier = SelectField("Carrier", choices=[], default="")
    tracking_number = StringField("Tracking number", filters=[_strip], validators=[Length(max=80)])
    tracking_url = URLField("Tracking page (URL) for “Other carrier”", filters=[_strip],
                            validators=[Optional(), _web_address])


class LineQuantityForm(Form):
    line_id = IntegerField(widget=HiddenInput(), validators=[InputRequired()])
    quantity = IntegerField("Quantity", validators=[
        InputRequired("Enter a quantity (0 when the package carries none)."),
        NumberRange(min=0, max=100_000, message="Enter a quantity of 0 or more.")])


class PackageForm(TrackingFields, Form):
    lines = FieldList(FormField(LineQuantityForm))


class ShipForm(ActionForm):
    template = "orders/_ship_form.html"
    submit_label = "Ship"
    packages = FieldList(FormField(PackageForm), min_entries=1, max_entries=MAX_PACKAGES)
    add_package = SubmitField("Add another package")
    remove_package = SubmitField("Remove the last package")

    def __init__(self, order, *args, **kwargs):
        super().__init__(order, *args, **kwargs)
        self.multi_package = marketplaces.module_for(order.marketplace).MULTI_PACKAGE
        for package in self.packages:
            package.carrier.choices = carrier_choices(order)

    @classmethod
    def opened(cls, order, version, args):
        return cls(order, formdata=None, version=version, data={"packages": [cls._package_data(order, {})]})

    @classmethod
    def _package_data(cls, order, already_packed):
        """A package carrying what is still left once earlier packages took their share.

        Single-package marketplaces ship everything left, so they get no quantities.
        """
        if not marketplaces.module_for(order.marketplace).MULTI_PACKAGE:
            return {}
        return {"lines": [{"line_id": line.id, "quantity": max(line.quantity_left - already_packed.get(line.id, 0), 0)}
                          for line in order.lines if line.quantity_left]}

    def line(self, line_id):
        return next((line for line in self.order.lines if line.id == line_id), None)

    def extra_buttons(self):
        if not self.multi_package:
            return []
        return [self.add_package] + ([self.remove_package] if len(self.packages) > 1 else [])

    def rearranged(self):
        if self.add_package.data and self.multi_package and len(self.packages) < MAX_PACKAGES:
            packed = {}
            for package in self.packages:
                for entry in package.lines:
                    packed[entry.line_id.data] = packed.get(entry.line_id.data, 0) + (entry.quantity.data or 0)
            self.packages.append_entry(self._package_data(self.order, packed))
            self.packages[-1].carrier.choices = carrier_choices(self.order)
            return True
        if self.remove_package.data and len(self.packages) > 1:
            self.packages.pop_entry()
            return True
        return False

    def params(self):
        return {"packages": [
            Package(carrier=package.carrier.data or None, tracking_number=package.tracking_number.data or "",
                    tracking_url=package.tracking_url.data or None,
                    lines={entry.line_id.data: entry.quantity.data for entry in package.lines})
            for package in self.packages]}

    def show_errors(self, errors):
        # With one package the service's field names point at its fields; with several the
        # message itself says which package ("Package 2: ...").
        if len(self.packages) == 1:
            package = self.packages[0].form
            errors = {name: message for name, message in errors.items()
                      if not _add_error(package, name, message)}
        super().show_errors(errors)


class EditTrackingForm(TrackingFields, ActionForm):
    template = "orders/_tracking_form.html"
    submit_label = "Save tracking"
    shipment_id = SelectField("Package", coerce=int)

    def __init__(self, order, *args, **kwargs):
        super().__init__(order, *args, **kwargs)
        self.carrier.choices = carrier_choices(order)
        self.shipment_id.choices = {s.id: f"Package {n}: {package_label(s)}"
                                    for n, s in enumerate(order.shipments, start=1)}

    @classmethod
    def opened(cls, order, version, args):
        wanted = args.get("shipment", type=int)
        shipment = next((s for s in order.shipments if s.id == wanted), None) or \
            (order.shipments[-1] if order.shipments else None)
        if shipment is None:  # shipped at the marketplace without a package fulfil knows of
            return cls(order, formdata=None, version=version)
        return cls(order, formdata=None, version=version, shipment_id=shipment.id, carrier=shipment.carrier,
                   tracking_number=shipment.tracking_number,
                   # an address of our own making would be stale once the number changes
                   tracking_url=shipment.tracking_url if shipment.carrier == "other" else None)

    def params(self):
        return {"shipment_id": self.shipment_id.data, "carrier": self.carrier.data or None,
                "tracking_number": self.tracking_number.data or "", "tracking_url": self.tracking_url.data or None}


class CancelForm(ActionForm):
    """The reasons are the marketplace's own for this order where it lists them (Ozon)."""
    template = "orders/_cancel_form.html"
    submit_label = "Cancel the order"
    # Checked by fulfil.actions against what was offered, with a message that says so.
    reason_code = SelectField("Why is it cancelled?", default="", validate_choice=False)
    note = TextAreaField("Note", filters=[_strip], validators=[Length(max=500)])

    def __init__(self, order, *args, **kwargs):
        super().__init__(order, *args, **kwargs)
        self.reasons, self.reasons_problem = cancel_reasons(order)
        self.reason_code.choices = {"": "Choose a reason", **{r.code: r.label for r in self.reasons}}

    def note_needed_for(self):
        return [r.label for r in self.reasons if r.needs_note]

    def params(self):
        return {"reason_code": self.reason_code.data or "", "note": self.note.data or "",
                "reasons": self.reasons}


class DisputeForm(ActionForm):
    """Filed at the marketplace too where it takes disputes for this order (`at_marketplace`)."""
    template = "orders/_dispute_form.html"
    submit_label = "Open dispute"
    note = TextAreaField("What the buyer or the marketplace says", filters=[_strip],
                         validators=[Length(max=2000)])
    deadline = DateTimeLocalField("Answer by (optional, local time)", format="%Y-%m-%dT%H:%M",
                                  validators=[Optional()])

    def params(self):
        deadline = self.deadline.data
        if deadline is not None:
            try:
                deadline = to_utc_naive(deadline.replace(tzinfo=local_zone()))
            except OverflowError:  # the year 9999 in a zone west of UTC is past datetime.max
                raise InvalidInput({"deadline": DEADLINE_RANGE}) from None
        return {"note": self.note.data or "", "deadline": deadline}

    @property
    def at_marketplace(self):
        return marketplaces.is_pushed(self.order, "open_dispute")

    @property
    def marketplace_note(self):
        """What the marketplace says about disputes on this order, if anything."""
        return marketplaces.refusal(self.order, "open_dispute")


class CloseDisputeForm(ActionForm):
    template = "orders/_close_dispute_form.html"
    submit_label = "Close dispute"
    note = TextAreaField("How it ended (optional)", filters=[_strip], validators=[Length(max=2000)])

    def params(self):
        return {"note": self.note.data or ""}


ACTION_FORMS = {
    "acknowledge": ActionForm,
    "pack": ActionForm,
    "ship": ShipForm,
    "update_tracking": EditTrackingForm,
    "deliver": ActionForm,
    "cancel": CancelForm,
    "open_dispute": DisputeForm,
    "close_dispute": CloseDisputeForm,
    "hand_on": ActionForm,
}
