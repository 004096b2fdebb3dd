"""`pos-producer simulate`: a realistic, deterministic Bishkek marketplace of POS terminals.

* `world`: merchants, shops at real markets and malls, SKUs with EAN-13 codes and KGS
  prices (drawn from `catalog_data`), terminals — a pure function of the seed;
* `seeding`: the world put into the core through its HTTP API, idempotently (state file);
* `rhythm`: how busy a till is at each hour of the Bishkek day;
* `run`: the terminals on a simulated clock, through the real `Terminal`, and a summary;
* `command`: the click command.
"""
