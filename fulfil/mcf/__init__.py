"""Amazon Multi-Channel Fulfillment as a channel: send orders to Amazon, follow them, pass
Amazon's tracking on to the marketplace that sold them.

The blueprint lives in fulfil.mcf.routes (not imported here): fulfil.models imports
fulfil.mcf.models, and the views import the domain, which imports the models."""
