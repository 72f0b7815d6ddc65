"""Extensions live at module level and are bound to the app in create_app (microblog's shape)."""
from flask_limiter import Limiter
from flask_limiter.util import get_remote_address
from flask_login import LoginManager
from flask_migrate import Migrate
from flask_sqlalchemy import SQLAlchemy
from flask_wtf.csrf import CSRFProtect
from sqlalchemy import MetaData

# Named constraints so Alembic migrations (and SQLite batch mode) can refer to them.
naming_convention = {
    "ix": "ix_%(column_0_label)s",
    "uq": "uq_%(table_name)s_%(column_0_name)s",
    "ck": "ck_%(table_name)s_%(constraint_name)s",
    "fk": "fk_%(table_name)s_%(column_0_name)s_%(referred_table_name)s",
    "pk": "pk_%(table_name)s",
}

db = SQLAlchemy(metadata=MetaData(naming_convention=naming_convention))
migrate = Migrate()
login_manager = LoginManager()
csrf = CSRFProtect()
# Failed sign-ins, counted in the app's Redis (fulfil/auth/throttle.py binds the storage).
# A moving window: no burst of twice the limit across a window's edge. While Redis is down
# each process keeps counting in memory, so sign-in neither stops nor goes unthrottled.
limiter = Limiter(key_func=get_remote_address, strategy="moving-window", in_memory_fallback_enabled=True)
