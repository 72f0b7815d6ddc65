"""What every job needs: the Flask app, built once per worker process."""
from contextlib import contextmanager
from functools import lru_cache


@lru_cache(maxsize=1)
def _app():
    from fulfil import create_app
    return create_app()


@contextmanager
def app_context(app=None):
    """Enter the app context (reusing the current one inside tests or the web app)."""
    from flask import current_app, has_app_context

    if has_app_context():
        yield current_app._get_current_object()
        return
    app = app or _app()
    with app.app_context():
        yield app
