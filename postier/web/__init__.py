"""Webmail: an ASGI application (Starlette, Jinja2 templates, nh3) served over the ``http`` and
``https`` listeners by web/http.py, in the server's event loop, on the shared store and change
bus. ``handler.web_handler`` is the entry point the composition root registers."""
