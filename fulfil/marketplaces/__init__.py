"""Marketplace modules: one per marketplace, each owning its quirks.

Every module defines
    STATUS_MAP        raw marketplace status -> fulfil status (data, not ifs)
    CARRIER_NAMES     fulfil carrier code -> the name this marketplace accepts
    PUSHED_ACTIONS    actions the marketplace has a call for (others are fulfil-only steps)
    supported_actions(order) -> set of action names this marketplace allows for the order
and may define
    refusal(order, action) -> why the marketplace does not allow it, and what to do instead
    cancel_reasons(order) -> [CancelReason] the marketplace allows for this very order
                      (asks the marketplace; raises MarketplaceError)
    pushes(order, action) -> whether this order's change goes to the marketplace, where
                      that depends on the order (default: action in PUSHED_ACTIONS)
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


def refusal(order, action):
    """The marketplace's reason for not allowing `action` on this order, or None."""
    explain = getattr(module_for(order.marketplace), "refusal", None)
    return explain(order, action) if explain is not None else None


def cancel_reasons(order):
    """The marketplace's own cancel reasons for this order, or None where it has no such
    list (fulfil's reasons apply). May raise MarketplaceError."""
    ask = getattr(module_for(order.marketplace), "cancel_reasons", None)
    return ask(order) if ask is not None else None


def is_pushed(order, action):
    module = module_for(order.marketplace)
    decide = getattr(module, "pushes", None)
    return decide(order, action) if decide is not None else action in module.PUSHED_ACTIONS


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
    from fulfil.accounts.vault import token_vault  # the accounts package imports this one
    vault = token_vault(account)
    if vault is not None:  # connected by OAuth: its stored tokens, not the environment's
        settings["token_vault"] = vault
    return settings


def adapter_for(account, token_store=None, session=None, app=None):
    module = module_for(account.kind)
    return module.ADAPTER(account_settings(account, app), token_store=token_store, session=session)
