"""The dashboard's settings, read from the query string so a wall screen's URL keeps them."""
from wtforms import Form, SelectChoice, SelectField, StringField
from wtforms.validators import AnyOf, NumberRange

PERIODS = {7: "Last 7 days", 30: "Last 30 days", 90: "Last 90 days"}
REFRESH_CHOICES = {0: "Off", 30: "Every 30 s", 60: "Every minute", 120: "Every 2 min", 300: "Every 5 min"}
DEFAULT_STUCK_DAYS = 7
MAX_STUCK_DAYS = 365


def _whole_number(value):
    """int(value), or None for anything else: the field's validator then says what is wanted."""
    try:
        return int(value)
    except (TypeError, ValueError):
        return None


def _choices(labels):
    return [SelectChoice(value, label) for value, label in labels.items()]


class DashboardForm(Form):
    """GET parameters, so no CSRF token: nothing here changes data."""
    period = SelectField("Statistics period", choices=_choices(PERIODS), default=7,
                         coerce=_whole_number, validate_choice=False,
                         validators=[AnyOf(PERIODS, message="Choose a period of 7, 30 or 90 days.")])
    stuck_days = StringField("Stuck in transit after (days)", default=DEFAULT_STUCK_DAYS,
                             filters=[_whole_number],
                             validators=[NumberRange(1, MAX_STUCK_DAYS, message=(
                                 f"Enter a whole number of days from 1 to {MAX_STUCK_DAYS}."))])
    refresh = SelectField("Auto-refresh", choices=_choices(REFRESH_CHOICES), default=0,
                          coerce=_whole_number, validate_choice=False,
                          validators=[AnyOf(REFRESH_CHOICES, message=(
                              "Choose an auto-refresh of 30, 60, 120 or 300 seconds, or 0 for off."))])

    def query_args(self, **changes):
        """The settings as URL parameters (with `changes`), for the poll, CSV links, period links."""
        return {"period": self.period.data, "stuck_days": self.stuck_days.data,
                "refresh": self.refresh.data} | changes

    def error_messages(self):
        return [f"{field.label.text}: {field.errors[0]}" for field in self if field.errors]
