"""Marketplace modules: one per marketplace, each owning its quirks.

Every module defines
    STATUS_MAP        raw marketplace status -> fulfil status (data, not ifs)
    CARRIER_NAMES     fulfil carrier code -> the name this marketplace accepts
    PUSHED_ACTIONS    actions the marketplace has a call for (others are fulfil-only steps)
    supported_actions(order) -> set of action names this marketplace allows for the order
    ADAPTER           the Adapter subclass (fulfil.marketplaces.base.Adapter)
"""
from importlib import import_module

from flask import current_app

KINDS = ("ozon", "walmart", "wish")
# Fulfilment channels: accounts with an adapter that are not marketplaces (no orders to import).
CHANNELS = ("amazon_mcf",)


def module_for(kind):
    if kind not in KINDS + CHANNELS:
        raise KeyError(f"unknown marketplace {kind!r}")
    return import_module(f"fulfil.marketplaces.{kind}")


def supported_actions(order):
    return module_for(order.marketplace).supported_actions(order)


def is_pushed(order, action):
    return action in module_for(order.marketplace).PUSHED_ACTIONS


def carrier_name(kind, carrier):
    """The carrier's name as `kind` accepts it, or None when that marketplace does not take it."""
    return module_for(kind).CARRIER_NAMES.get(carrier)


def account_settings(account, app=None):
    """Config (credentials included) for a MarketplaceAccount row; never rendered or logged."""
    app = app or current_app
    settings = dict(app.config["MARKETPLACE_ACCOUNTS"].get(account.slug, {}))
    settings.setdefault("base_url", account.base_url)
    settings.setdefault("kind", account.kind)
    settings["slug"] = account.slug
    return settings


def adapter_for(account, token_store=None, session=None, app=None):
    module = module_for(account.kind)
    return module.ADAPTER(account_settings(account, app), token_store=token_store, session=session)
