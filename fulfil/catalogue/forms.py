from flask_wtf import FlaskForm
from flask_wtf.file import FileField
from wtforms import StringField, TextAreaField

from fulfil.catalogue.service import ProductInput, split_barcodes


class ProductForm(FlaskForm):
    sku = StringField("SKU")
    name = StringField("Name")
    bin_location = StringField("Bin location")
    barcodes = TextAreaField("Barcodes (EAN, UPC or any code on the item; one per line)")
    image_url = StringField("Image address (https://…)")

    def fill(self, product):
        self.sku.data, self.name.data, self.bin_location.data = product.sku, product.name, product.bin_location
        self.image_url.data = product.image_url or ""
        self.barcodes.data = "\n".join(b.code for b in product.barcodes)

    def product_input(self):
        return ProductInput(sku=self.sku.data or "", name=self.name.data or "",
                            bin_location=self.bin_location.data or "", image_url=self.image_url.data or "",
                            barcodes=tuple(split_barcodes(self.barcodes.data)))

    def show_errors(self, errors):
        for name, message in errors.items():
            getattr(self, name).errors = [message]


class ImportForm(FlaskForm):
    file = FileField("CSV or Excel (.xlsx) file with a header row: SKU, Name, Barcode, Bin location, Image")
