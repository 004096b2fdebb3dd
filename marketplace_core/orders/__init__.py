"""Orders: buy eligibility, payout onboarding, pickup slots, orders and their life cycle."""
