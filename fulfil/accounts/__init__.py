"""Marketplace accounts fulfil holds credentials for: a Wish account connected by OAuth
(the seller authorises fulfil's app in Wish and is redirected back), its tokens kept
encrypted in the database.

The blueprint lives in fulfil.accounts.routes (not imported here): fulfil.models imports
fulfil.accounts.models, and the views import the domain, which imports the models."""
