"""The Money page's settings, read from the query string (nothing here changes data)."""
from wtforms import Form, StringField
from wtforms.validators import NumberRange

from fulfil.supervisor.forms import _whole_number

DEFAULT_DAYS = 14
MAX_DAYS = 365


class MoneyForm(Form):
    days = StringField("Not paid after (days)", default=DEFAULT_DAYS, filters=[_whole_number],
                       validators=[NumberRange(1, MAX_DAYS, message=(
                           f"Enter a whole number of days from 1 to {MAX_DAYS}."))])

    def error_messages(self):
        return [f"{field.label.text}: {field.errors[0]}" for field in self if field.errors]
