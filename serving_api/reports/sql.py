"""SQL fragments the report declarations share (serving_api.reports.catalog and friends).

Every fragment uses the query parameters of `serving_api.reports.model` ({shop:String},
{lo:Date}, {hi:Date}, {surface:String}, {tz:String}). Ratios are computed in Decimal, never
Float: `pct` gives 6 places (ClickHouse truncates a Decimal division to the dividend's
scale), which `model.convert` rounds half up to 2, so a row's per cent is exact.
"""

from __future__ import annotations

# Where a buyer met the shop (the `surface` of behavioural events, seed 000 §5, §18).
SURFACES = ("map", "feed", "following", "explore", "search", "profile", "ad", "other")

# One shop, the requested local days.
SHOP_RANGE = "shop_id = {shop:String} AND date BETWEEN {lo:Date} AND {hi:Date}"
# '' (no filter) keeps every surface.
SURFACE_FILTER = "({surface:String} = '' OR surface = {surface:String})"


def pct(numerator: str, denominator: str) -> str:
    """numerator / denominator in per cent, Decimal with 6 places; NULL when the
    denominator is not positive."""
    return (f"if(({denominator}) > 0, "
            f"CAST({numerator}, 'Decimal(38, 6)') * 100 / ({denominator}), NULL)")


def change_pct(value: str, previous: str) -> str:
    """(value - previous) / |previous| in per cent; NULL without a previous figure."""
    return (f"if(({previous}) IS NULL OR ({previous}) = 0 OR ({value}) IS NULL, NULL, "
            f"CAST(({value}) - ({previous}), 'Decimal(38, 6)') * 100 / abs({previous}))")
