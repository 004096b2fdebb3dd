"""Inventory: the rules of taking units out of free stock and returning them (orders, tills)."""
