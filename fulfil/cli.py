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
    """Add a user (or reset an existing user's password and role, signing them out everywhere)."""
    from fulfil.auth import accounts

    user = db.session.scalar(db.select(User).where(User.username == username))
    try:
        if user is None:
            accounts.create_user(username, role, password, display_name=display_name)
        else:
            accounts.set_role(user, role)
            accounts.reset_password(user, password)
            user.display_name = display_name or user.display_name
    except accounts.AccountError as exc:
        raise click.ClickException(str(exc))
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
    from fulfil.ratelimit import limited_adapter

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


@fulfil_cli.command("demo-products")
def demo_products():
    """Give every SKU on the orders a product with a bin and an EAN-13 (demo data).

    Products a person already gave a bin keep theirs; the barcodes are valid EAN-13s
    from the 200–299 range GS1 keeps for in-store use, so they never clash with real goods.
    """
    from fulfil.catalogue.models import Product, ProductBarcode
    from fulfil.catalogue.service import gs1_check_digit, learn_from_lines
    from fulfil.models import OrderLine

    learn_from_lines(db.session.scalars(db.select(OrderLine).where(OrderLine.sku != "")).all())
    db.session.flush()
    products = db.session.scalars(db.select(Product).order_by(Product.sku)).all()
    filled = 0
    for number, product in enumerate(products, start=1):
        if not product.bin_location:
            product.bin_location = f"{'ABCDEF'[number % 6]}-{number % 12 + 1:02d}-{number % 4 + 1}"
            filled += 1
        if not product.barcodes:
            body = f"2{number:011d}"
            product.barcodes.append(ProductBarcode(code=body + gs1_check_digit(body), kind="ean13"))
    db.session.commit()
    click.echo(f"products={len(products)} given_bins={filled}")
