"""Seller subscriptions (FREE / PRO / ENTERPRISE): trial, renewal, downgrade, SKU limit."""
