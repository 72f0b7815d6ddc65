"""Plain words for people: counted nouns ("1 row", "3 rows") and who made a change."""


def plural(count, word, words=None):
    """'1 row', '2 rows', '1,200 rows'; pass `words` for irregular plurals ('entry', 'entries')."""
    count = count or 0
    return f"{count:,} {word if count == 1 else (words or word + 's')}"


# Where a change came from (Event.source), in a person's words.
_SOURCES = {"bulk": "bulk upload", "system": "automatic", "ui": None}


def changed_by(event, marketplace_label):
    """'by Anna', 'by Anna (bulk upload)', 'imported from Walmart', 'by fulfil (automatic)'."""
    if event.source == "marketplace":
        return f"imported from {marketplace_label}"
    who = "fulfil" if event.actor in (None, "", "system") else event.actor
    where = _SOURCES.get(event.source, event.source)
    return f"by {who} ({where})" if where else f"by {who}"
