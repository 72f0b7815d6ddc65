"""Forms of the MCF pages: shape only; the rules live in fulfil.mcf.service."""
from flask_wtf import FlaskForm
from wtforms import BooleanField, SelectField, StringField, TextAreaField
from wtforms.validators import InputRequired, Length, Optional

from fulfil.marketplaces.amazon_mcf import SHIPPING_SPEEDS

SPEED_CHOICES = {s: s for s in SHIPPING_SPEEDS}


def _strip(value):
    return value.strip() if isinstance(value, str) else value


class SendForm(FlaskForm):
    """Preview (no speed yet) and confirm (with the chosen speed) share this form."""
    account = SelectField("Amazon MCF account", validate_choice=True)
    block_amzl = BooleanField("Keep Amazon Logistics out (BLOCK_AMZL)")
    shipping_speed = SelectField("Shipping speed", choices=SPEED_CHOICES, default="Standard")

    def __init__(self, accounts, *args, **kwargs):
        super().__init__(*args, **kwargs)
        self.account.choices = {str(a.id): a.name for a in accounts}
        if accounts and not self.account.data and not self.is_submitted():
            self.account.data = str(accounts[0].id)  # shown preselected; a POST must name it


class BulkForm(SendForm):
    numbers = TextAreaField("Order numbers, one per line", filters=[_strip],
                            validators=[InputRequired("Paste at least one order number."),
                                        Length(max=20000, message="At most 20,000 characters.")])


class PlaceholderForm(FlaskForm):
    confirm = BooleanField("I understand: the buyer gets no real tracking, and it cannot be changed later")


class SkuForm(FlaskForm):
    account = SelectField("Amazon MCF account", validate_choice=True)
    source_account = SelectField("Orders from", validate_choice=True)
    sku = StringField("Our SKU", filters=[_strip], validators=[InputRequired("Enter our SKU."), Length(max=120)])
    mcf_sku = StringField("MCF seller SKU (if different)", filters=[_strip], validators=[Optional(), Length(max=50)])
    auto_route = BooleanField("Send orders for this SKU to Amazon automatically")
    shipping_speed = SelectField("Shipping speed", choices=SPEED_CHOICES, default="Standard")

    def __init__(self, accounts, sources, *args, **kwargs):
        super().__init__(*args, **kwargs)
        self.account.choices = {str(a.id): a.name for a in accounts}
        self.source_account.choices = {"": "Every eligible account", **{str(a.id): a.name for a in sources}}
