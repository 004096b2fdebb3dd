"""The `ad` field of an item that is an ad (feeds, search): optional, so clients that do
not know it keep working; an item with `ad` set must be shown with its label."""

from __future__ import annotations

from pydantic import BaseModel, Field


class AdOut(BaseModel):
    label: str = Field(description="Show this label on the item («Реклама»)")
    token: str = Field(description="Report impressions and clicks with it (POST /ads/events)")
    click_url: str = Field(description="Open on tap: records the click, then 303 to the ad's "
                                       "target")
    own_ad: bool = Field(default=False,
                         description="The viewer manages the advertiser (shown, never billed)")
