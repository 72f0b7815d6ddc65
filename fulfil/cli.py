"""`flask --app app fulfil ...` commands."""
import click
from flask.cli import AppGroup

from fulfil.extensions import db
from fulfil.models import ROLES, User

fulfil_cli = AppGroup("fulfil", help="fulfil administration.")


@fulfil_cli.command("create-user")
@click.argument("username")
@click.option("--role", type=click.Choice(ROLES), default="warehouse", show_default=True)
@click.option("--name", "display_name", default="", help="Name shown in the audit trail.")
@click.password_option()
def create_user(username, role, display_name, password):
    """Add a user (or reset an existing user's password and role)."""
    user = db.session.scalar(db.select(User).where(User.username == username))
    if user is None:
        user = User(username=username)
        db.session.add(user)
    user.role = role
    user.display_name = display_name or user.display_name or username
    user.set_password(password)
    db.session.commit()
    click.echo(f"user={username} role={role} saved")


def init_app(app):
    app.cli.add_command(fulfil_cli)


@fulfil_cli.command("sync")
@click.option("--account", "slug", help="Only this account (its slug).")
def sync(slug):
    """Import new and changed orders from the marketplaces now."""
    from fulfil.importer import import_account, sync_accounts_from_config
    from fulfil.marketplaces.base import MarketplaceError
    from fulfil.models import MarketplaceAccount
    from workers.ratelimit import limited_adapter

    sync_accounts_from_config()
    from fulfil.marketplaces import KINDS

    query = db.select(MarketplaceAccount).where(MarketplaceAccount.enabled, MarketplaceAccount.kind.in_(KINDS))
    if slug:
        query = query.where(MarketplaceAccount.slug == slug)
    accounts = db.session.scalars(query).all()
    if not accounts:
        raise click.ClickException("No marketplace accounts configured (see README: FULFIL_ACCOUNTS).")
    failed = False
    for account in accounts:
        try:
            count = import_account(account, limited_adapter(account))
            click.echo(f"account={account.slug} imported={count}")
        except MarketplaceError as exc:
            failed = True
            click.echo(f"account={account.slug} error={exc.kind} message={exc.message!r}", err=True)
    if failed:
        raise SystemExit(1)


DEMO_PASSWORD = "fulfil-demo"
DEMO_USERS = (("warehouse", "warehouse", "Wendy Warehouse"), ("seller", "seller", "Sam Seller"),
              ("supervisor", "supervisor", "Sue Supervisor"), ("admin", "admin", "Ada Admin"))


@fulfil_cli.command("demo-users")
def demo_users():
    """Create the demo logins (one per role, password fulfil-demo) if they do not exist."""
    for username, role, name in DEMO_USERS:
        if db.session.scalar(db.select(User.id).where(User.username == username)) is None:
            user = User(username=username, role=role, display_name=name)
            user.set_password(DEMO_PASSWORD)
            db.session.add(user)
    db.session.commit()
    for username, role, _ in DEMO_USERS:
        click.echo(f"  {role:<11} user {username:<11} password {DEMO_PASSWORD}")
