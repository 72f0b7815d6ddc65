"""After the parcel leaves — and just before: stop-ship on marketplace cancellations, recalls."""
