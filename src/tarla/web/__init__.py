"""The infusion-centre web app (FastAPI + Jinja2 + HTMX): ``tarla.web.app:create_app``."""
