"""The key that signs sessions and remember-me cookies: never a shared default.

Anyone who knows the key can sign a cookie that says "I am the admin", so a key that ships
with the code (earlier versions fell back to one) is no key at all. The rule:

- `SECRET_KEY` set: used, unless it is the old built-in default or shorter than 32
  characters (both guessable).
- Development (`FULFIL_ENV=development`, as `make run` sets, or Flask's debug mode): with
  no `SECRET_KEY`, a random key is made on first start in `instance/secret_key` (mode
  0600) and reused on later starts, so each checkout has a key of its own.
- Anywhere else (`FULFIL_ENV=production`, or debug off): no key, no start.

Changing the key (or deleting instance/secret_key in development) signs everyone out:
cookies signed with the old key no longer verify.
"""
import logging
import os
import secrets
from pathlib import Path

log = logging.getLogger(__name__)

# Public values (they were in fulfil's source): a cookie signed with one proves nothing.
KNOWN_KEYS = frozenset({"dev-only-change-me"})
MIN_LENGTH = 32
ENVIRONMENTS = ("", "development", "production")
HOW_TO_SET = ("Set SECRET_KEY to a long random value, the same for the web app and the workers, e.g.\n"
              "    export SECRET_KEY=\"$(python3 -c 'import secrets; print(secrets.token_hex(32))')\"\n"
              "or, on a developer's machine only, FULFIL_ENV=development to let fulfil keep a key of "
              "its own in instance/secret_key.")


class SecretKeyError(RuntimeError):
    """fulfil cannot start safely with this configuration; the message says what to do."""


def configure_secret_key(app):
    """Give the app a key it may trust, or refuse to start (see the module docstring)."""
    env = (app.config.get("FULFIL_ENV") or "").strip().lower()
    if env not in ENVIRONMENTS:
        raise SecretKeyError(f"FULFIL_ENV={env!r} is not known: use 'development' or 'production'.")
    key = app.config.get("SECRET_KEY")
    if key:
        if key in KNOWN_KEYS:
            raise SecretKeyError("SECRET_KEY is the old built-in default, which anyone can read in "
                                 "fulfil's source and use to sign in as any user.\n" + HOW_TO_SET)
        if len(key) < MIN_LENGTH and not app.testing:
            raise SecretKeyError(f"SECRET_KEY is {len(key)} characters long; it needs at least "
                                 f"{MIN_LENGTH} random ones to be safe from guessing.\n" + HOW_TO_SET)
        return
    if app.testing:
        app.config["SECRET_KEY"] = secrets.token_hex(32)
        return
    if env == "production" or (env != "development" and not app.debug):
        raise SecretKeyError("fulfil will not start without SECRET_KEY outside development: sessions "
                             "signed with a shared or missing key can be forged.\n" + HOW_TO_SET)
    app.config["SECRET_KEY"] = load_or_create(Path(app.config["SECRET_KEY_FILE"]))


def load_or_create(path):
    """The key kept in `path`; on first start a new random one, readable by this user only.

    `make run` starts several processes at once: the key is written to a file of its own and
    hard-linked into place, so the first process wins and no one ever reads half a key.
    """
    if not path.exists():
        path.parent.mkdir(parents=True, exist_ok=True)
        scratch = path.with_name(f".{path.name}.{os.getpid()}.{secrets.token_hex(4)}")
        fd = os.open(scratch, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
        try:
            os.fchmod(fd, 0o600)
            os.write(fd, (secrets.token_hex(32) + "\n").encode())
            os.fsync(fd)
        finally:
            os.close(fd)
        try:
            os.link(scratch, path)
            log.warning("secret_key=created path=%s note='a key of this checkout; set SECRET_KEY "
                        "in production'", path)
        except FileExistsError:
            pass  # another process of this start made it first: use theirs
        finally:
            scratch.unlink()
    if path.stat().st_mode & 0o077:
        os.chmod(path, 0o600)  # a key others can read is a key others can sign with
    key = path.read_text().strip()
    if len(key) < MIN_LENGTH:
        raise SecretKeyError(f"{path} holds no usable key: delete it and fulfil makes a new one "
                             "(everyone will have to sign in again).")
    return key
