"""Adapters: database, PDF, barcodes, calendars — the outside world mapped onto the core."""
