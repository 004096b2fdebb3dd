"""Ads (issue 12, seed 000 §3.10, §17): campaigns with moderated creatives
(`campaigns`), who they target (`targeting`), the merchant's ad wallet in the ledger
(`wallet`: PSP top-ups, holds, monthly statement) and charging it (`billing`).

Owns the tables `ad_campaigns`, `ad_campaign_status_log`, `ad_wallets`, `ad_topups`,
`ad_charges`, `ad_credits` (migration 0016); publishes `ads.campaigns`.
"""
