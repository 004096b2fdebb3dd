"""One router module per resource; `all_routers()` lists them for the app."""

from __future__ import annotations

from fastapi import APIRouter


def all_routers() -> list[APIRouter]:
    from marketplace_core.api.routers import events, health

    # POST /events first: the busiest route by far, matched before the ~150 others.
    routers = [events.router, health.router]
    # Each domain appends its routers here, one import and one line each, e.g.
    #   from marketplace_core.api.routers import orders
    #   routers.append(orders.router)
    from marketplace_core.api.routers import audit, auth, merchants
    routers.extend([auth.router, merchants.router, audit.router])
    from marketplace_core.api.routers import payments, payouts, webhooks
    routers.extend([payments.router, webhooks.router, payouts.router])
    from marketplace_core.payments import psp
    if psp.provider_name() == "simulator":  # a local stand-in: mounted only when chosen
        from marketplace_core.api.routers import psp_simulator
        routers.append(psp_simulator.router)
    from marketplace_core.api.routers import subscriptions
    routers.append(subscriptions.router)
    from marketplace_core.api.routers import eligibility, orders, pos
    routers.extend([orders.router, eligibility.router, pos.router])
    from marketplace_core.api.routers import categories, imports, products, search, shops
    routers.extend([categories.router, shops.router, products.router, search.router,
                    imports.router])
    from marketplace_core.api.routers import social
    routers.extend([social.router, social.moderation_router])
    from marketplace_core.api.routers import feeds
    routers.extend([feeds.router, feeds.map_router])
    from marketplace_core.api.routers import privacy
    routers.append(privacy.router)
    from marketplace_core.api.routers import ads
    routers.append(ads.router)
    from marketplace_core.api.routers import ad_events
    routers.append(ad_events.router)
    from marketplace_core.api.routers import notifications
    routers.append(notifications.router)
    from marketplace_core.api.routers import chat, live
    routers.extend([chat.router, live.router])
    return routers
