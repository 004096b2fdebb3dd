"""Inventory: stock reservations for orders (taking and returning free stock)."""
