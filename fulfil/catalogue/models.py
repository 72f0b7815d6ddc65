"""The product catalogue: one row per SKU, any number of barcodes per product.

Kept plain on purpose: picking, packing (and later stock) read `products` by SKU and
`product_barcodes` by code; nothing here knows about orders.
"""
from sqlalchemy import Index

from fulfil.extensions import db
from fulfil.timeutil import utcnow

BARCODE_KINDS = {"ean13": "EAN-13", "upc": "UPC-A", "ean8": "EAN-8", "gtin14": "GTIN-14", "other": "Other"}
PRODUCT_SOURCES = ("manual", "import", "marketplace")


class Product(db.Model):
    __tablename__ = "products"
    sku = db.Column(db.String(120), primary_key=True)  # the seller's SKU, as on order lines
    name = db.Column(db.String(500), nullable=False, default="")
    bin_location = db.Column(db.String(60), nullable=False, default="")  # e.g. "A-03-2"
    image_url = db.Column(db.String(500))
    source = db.Column(db.String(20), nullable=False, default="manual")
    created_at = db.Column(db.DateTime, nullable=False, default=utcnow)
    updated_at = db.Column(db.DateTime, nullable=False, default=utcnow, onupdate=utcnow)

    barcodes = db.relationship("ProductBarcode", back_populates="product", order_by="ProductBarcode.code",
                               cascade="all, delete-orphan")
    __table_args__ = (Index("ix_products_bin", "bin_location", "sku"),)


class ProductBarcode(db.Model):
    __tablename__ = "product_barcodes"
    code = db.Column(db.String(64), primary_key=True)  # digits for EAN/UPC/GTIN, as printed otherwise
    sku = db.Column(db.String(120), db.ForeignKey("products.sku", ondelete="CASCADE", onupdate="CASCADE"),
                    nullable=False, index=True)
    kind = db.Column(db.String(10), nullable=False, default="other")

    product = db.relationship("Product", back_populates="barcodes")
