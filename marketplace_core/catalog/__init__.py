"""Catalog domain: merchants, shops, categories, products and their sellable variants."""
