"""The one guard against CSV formula injection, for every CSV fulfil writes.

A spreadsheet runs a cell that starts with = + - @ (or a tab or carriage return before
one) as a formula. Every exported cell goes through `neutralise`, which puts an
apostrophe in front of such text: the spreadsheet shows it as plain text. `restore`
undoes it when a seller uploads a report fulfil wrote, so it reads back as typed.
"""
FORMULA_STARTS = ("=", "+", "-", "@", "\t", "\r")


def neutralise(value):
    text = "" if value is None else str(value)
    return "'" + text if text.startswith(FORMULA_STARTS) else text


def restore(text):
    return text[1:] if text.startswith("'") and text[1:].startswith(FORMULA_STARTS) else text
