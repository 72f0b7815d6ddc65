"""Stock per SKU, its movements, stock held elsewhere, and the demand forecast."""
