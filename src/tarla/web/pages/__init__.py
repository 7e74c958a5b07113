"""HTML pages (Jinja2 + HTMX). Each module has a ``router``; routes translate only."""
