"""Amazon Multi-Channel Fulfillment as a channel: send orders to Amazon, follow them, pass
Amazon's tracking on to the marketplace that sold them."""
from flask import Blueprint

bp = Blueprint("mcf", __name__, url_prefix="/mcf", template_folder="templates")

from fulfil.mcf import routes  # noqa: E402,F401
