"""Ads (issue 12, seed 000 §3.10, §17): campaigns with moderated creatives
(`campaigns`), who they target (`targeting`), the merchant's ad wallet in the ledger
(`wallet`: PSP top-ups, holds, monthly statement) and charging it (`billing`).

Serving (§2): which campaigns fill the ad slots of feeds and search (`serving`), the
signed ad token of a served slot (`tokens`), impressions and clicks to `ads.events`
(`reporting`).

Owns the tables `ad_campaigns`, `ad_campaign_status_log`, `ad_wallets`, `ad_topups`,
`ad_charges`, `ad_credits` (migration 0016), `ad_delivery`, `ad_frequency`,
`ad_event_dedup` (0017); publishes `ads.campaigns` and `ads.events`.
"""
