"""No shared default key: development makes its own, anything else refuses to start without
one; a cookie signed with any other key (the old default included) signs nobody in."""
import os
import stat
import subprocess
import sys
from pathlib import Path

import pytest
from flask import Flask

from config import Config
from fulfil import create_app
from fulfil.extensions import db
from fulfil.models import User
from fulfil.secret_key import SecretKeyError

ROOT = Path(__file__).resolve().parent.parent
OLD_DEFAULT = "dev-only-change-me"


def config(tmp_path, **settings):
    """A non-testing config (as `make run` / gunicorn read it), with its key file in tmp_path."""
    base = {"SECRET_KEY": None, "SECRET_KEY_FILE": str(tmp_path / "instance" / "secret_key"),
            "FULFIL_ENV": "", "DEBUG": False, "TESTING": False,
            "SQLALCHEMY_DATABASE_URI": "sqlite://", "REDIS_FALLBACK": False}
    return type("StartConfig", (Config,), {**base, **settings})


def test_development_makes_a_private_key_once_and_reuses_it(tmp_path):
    first = create_app(config(tmp_path, FULFIL_ENV="development"))
    key_file = tmp_path / "instance" / "secret_key"
    assert stat.S_IMODE(key_file.stat().st_mode) == 0o600
    assert first.secret_key == key_file.read_text().strip() and len(first.secret_key) == 64
    second = create_app(config(tmp_path, FULFIL_ENV="development"))
    assert second.secret_key == first.secret_key
    assert create_app(config(tmp_path / "other", FULFIL_ENV="development")).secret_key != first.secret_key


def test_a_key_file_others_can_read_is_made_private(tmp_path):
    key_file = tmp_path / "instance" / "secret_key"
    key_file.parent.mkdir()
    key_file.write_text("k" * 64)
    key_file.chmod(0o644)
    app = create_app(config(tmp_path, FULFIL_ENV="development"))
    assert app.secret_key == "k" * 64 and stat.S_IMODE(key_file.stat().st_mode) == 0o600


def test_debug_mode_counts_as_development(tmp_path):
    app = create_app(config(tmp_path, DEBUG=True))
    assert app.secret_key == (tmp_path / "instance" / "secret_key").read_text().strip()


@pytest.mark.parametrize("settings", [
    {"FULFIL_ENV": "production"},
    {"FULFIL_ENV": "production", "DEBUG": True},  # production wins over a debug flag
    {},  # debug off, no environment named: not development
], ids=["production", "production-debug", "debug-off"])
def test_without_a_key_outside_development_it_refuses_to_start(tmp_path, settings):
    with pytest.raises(SecretKeyError, match="will not start without SECRET_KEY"):
        create_app(config(tmp_path, **settings))
    assert not (tmp_path / "instance").exists()


@pytest.mark.parametrize("key, message", [
    (OLD_DEFAULT, "old built-in default"),
    ("short-and-guessable", "at least 32"),
])
def test_guessable_keys_are_refused_even_in_development(tmp_path, key, message):
    with pytest.raises(SecretKeyError, match=message):
        create_app(config(tmp_path, FULFIL_ENV="development", SECRET_KEY=key))


def test_a_long_key_from_the_environment_is_used(tmp_path):
    key = "x" * 40
    assert create_app(config(tmp_path, FULFIL_ENV="production", SECRET_KEY=key)).secret_key == key


def test_an_unknown_environment_name_is_refused(tmp_path):
    with pytest.raises(SecretKeyError, match="FULFIL_ENV='prod' is not known"):
        create_app(config(tmp_path, FULFIL_ENV="prod", SECRET_KEY="x" * 40))


def _start(tmp_path, **env):
    """`flask --app app routes` as an operator runs it: the real entry point and config."""
    clean = {k: v for k, v in os.environ.items()
             if k not in ("SECRET_KEY", "FULFIL_ENV", "FLASK_DEBUG") and not k.startswith("FULFIL_ACCOUNT")}
    clean.update(PYTHONPATH=str(ROOT), DATABASE_URL="sqlite:///" + str(tmp_path / "db.sqlite3"),
                 FULFIL_SECRET_KEY_FILE=str(tmp_path / "instance" / "secret_key"), FULFIL_REDIS_FALLBACK="0",
                 **env)
    return subprocess.run([sys.executable, "-m", "flask", "--app", "app", "routes"], cwd=ROOT, env=clean,
                          capture_output=True, text=True, timeout=120)


def test_the_real_entry_point_refuses_in_production_and_keeps_a_key_in_development(tmp_path):
    refused = _start(tmp_path, FULFIL_ENV="production")
    assert refused.returncode != 0
    assert "will not start without SECRET_KEY" in refused.stderr and "token_hex" in refused.stderr
    started = _start(tmp_path, FULFIL_ENV="development")
    assert started.returncode == 0, started.stderr
    assert "auth.login" in started.stdout
    assert len((tmp_path / "instance" / "secret_key").read_text().strip()) == 64


# -- cookies signed with another key -------------------------------------------------------

def _signed_session(key, data):
    """A session cookie value as a Flask app with this key would sign it."""
    forger = Flask("forger")
    forger.secret_key = key
    return forger.session_interface.get_signing_serializer(forger).dumps(data)


def _admin_id(app):
    with app.app_context():
        return db.session.scalar(db.select(User).where(User.username == "admin")).get_id()


def test_a_cookie_forged_with_the_old_default_key_is_rejected(app, client, users):
    forged = _signed_session(OLD_DEFAULT, {"_user_id": _admin_id(app), "_fresh": True})
    client.set_cookie("session", forged)
    response = client.get("/")
    assert response.status_code == 302 and "/login" in response.headers["Location"]
    # The same cookie signed with the app's own key does sign in: the test can fail.
    client.set_cookie("session", _signed_session(app.secret_key, {"_user_id": _admin_id(app), "_fresh": True}))
    assert client.get("/").status_code == 200


def _cookies(client):
    return {name: client.get_cookie(name).value for name in ("session", "remember_token")
            if client.get_cookie(name) is not None}


def test_rotating_the_key_signs_everyone_out_remember_me_included(app, client, users):
    response = client.post("/login", data={"username": "seller", "password": "secret-pass", "remember": "y"})
    assert response.status_code == 302
    cookies = _cookies(client)
    assert set(cookies) == {"session", "remember_token"}

    def visit(secret_key, only=None):
        other = create_app({"SQLALCHEMY_DATABASE_URI": app.config["SQLALCHEMY_DATABASE_URI"],
                            "REDIS_URL": app.config["REDIS_URL"], "SECRET_KEY": secret_key})
        visitor = other.test_client()
        for name, value in cookies.items():
            if only in (None, name):
                visitor.set_cookie(name, value)
        answer = visitor.get("/")
        with other.app_context():
            db.engine.dispose()
        return answer.status_code

    assert visit(app.secret_key) == 200  # same key: still signed in
    assert visit(app.secret_key, only="remember_token") == 200  # the remember-me cookie alone signs in
    assert visit("a-new-key-" + "0" * 40) == 302  # new key: signed out
    assert visit("a-new-key-" + "0" * 40, only="remember_token") == 302
