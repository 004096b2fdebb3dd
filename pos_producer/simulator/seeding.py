"""Putting the simulated world into the core, through its public HTTP API only (so the
core, its outbox events and the lake all agree on every id).

Per merchant, in one worker: register the seller → confirm TOTP (pyotp code) → create
the merchant → take the PRO trial if it carries more SKUs than FREE allows → open its
shops → create products with their variants (barcode, price, stock) → onboard payouts →
register the shops' POS terminals. Merchants are seeded in parallel (a few threads).

Re-runs are idempotent: every id and credential the API hands out is kept in a state file
(`.local/pos/sim-<seed>.json`); a second run skips what the file already has and carries
on where an interrupted run stopped. The file is written atomically; the answers that
cannot be asked for again (a seller's password and TOTP secret, a terminal's token and
secret) are saved the moment they arrive.
"""

from __future__ import annotations

import json
import os
import secrets
import threading
import time
from collections.abc import Callable, Iterator
from concurrent.futures import ThreadPoolExecutor, as_completed
from dataclasses import dataclass
from decimal import Decimal
from pathlib import Path
from typing import Any

import httpx
import pyotp

from pos_producer.settings import get_pos_settings
from pos_producer.simulator.world import DeviceSpec, MerchantSpec, ShopSpec, World, market

STATE_VERSION = 1
_SAVE_EVERY_S = 0.5
_TOTP_STEP_S = 30


class SeedingError(RuntimeError):
    """The core refused something the world needs (the message has its answer)."""


def default_state_path(seed: int) -> Path:
    return get_pos_settings().data_dir / f"sim-{seed}.json"


def seller_email(seed: int, merchant_key: str) -> str:
    return f"sim{seed}-{merchant_key}@sim.bazaar.kg"


# --- the state file ------------------------------------------------------------------------


class SeedState:
    """The ids and credentials the core gave us, as nested dicts, saved to a JSON file."""

    def __init__(self, path: Path, data: dict[str, Any]) -> None:
        self.path = path
        self.data = data
        self._lock = threading.RLock()
        self._saved_at = 0.0

    @classmethod
    def load(cls, path: Path, *, seed: int, api_url: str) -> SeedState:
        if path.exists():
            data = json.loads(path.read_text(encoding="utf-8"))
            if data.get("seed") != seed or data.get("version") != STATE_VERSION:
                raise SeedingError(f"{path} belongs to another world (seed {data.get('seed')})")
            if data.get("api_url") != api_url:
                raise SeedingError(
                    f"{path} was seeded through {data.get('api_url')}, not {api_url}: "
                    "give another --state file for another core")
            return cls(path, data)
        return cls(path, {"version": STATE_VERSION, "seed": seed, "api_url": api_url,
                          "merchants": {}, "devices": {}, "stock": {}})

    def merchant(self, key: str) -> dict[str, Any]:
        with self._lock:
            return self.data["merchants"].setdefault(key, {"shops": {}})  # type: ignore[no-any-return]

    def shop(self, merchant_key: str, shop_key: str) -> dict[str, Any]:
        with self._lock:
            shops = self.merchant(merchant_key)["shops"]
            return shops.setdefault(shop_key, {"products": {}})  # type: ignore[no-any-return]

    def put(self, entry: dict[str, Any], **values: Any) -> None:
        """Change an entry of the state (under the lock a concurrent save holds)."""
        with self._lock:
            entry.update(values)

    def save(self, *, force: bool = False) -> None:
        with self._lock:
            now = time.monotonic()
            if not force and now - self._saved_at < _SAVE_EVERY_S:
                return
            self.path.parent.mkdir(parents=True, exist_ok=True)
            tmp = self.path.with_suffix(f".{os.getpid()}.tmp")
            # it holds passwords, TOTP secrets and terminal secrets: owner only
            fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
            with open(fd, "w", encoding="utf-8") as out:
                json.dump(self.data, out, ensure_ascii=False, indent=1, sort_keys=True)
                out.flush()
                os.fsync(out.fileno())
            os.replace(tmp, self.path)
            self._saved_at = now


# --- what seeding hands to the simulation ----------------------------------------------


@dataclass(frozen=True)
class SeededVariant:
    variant_id: str
    sku: str
    barcode: str
    price: Decimal
    stock: int  # at creation


@dataclass(frozen=True)
class SeededDevice:
    key: str
    device_id: str
    shop_key: str
    shop_id: str
    market: str
    token: str
    secret: str


@dataclass(frozen=True)
class SeededWorld:
    world: World
    devices: tuple[SeededDevice, ...]
    variants_by_shop: dict[str, tuple[SeededVariant, ...]]
    state: SeedState
    seconds: float

    def shop_id(self, shop_key: str) -> str:
        merchant_key = self.world.shop(shop_key).merchant_key
        return str(self.state.data["merchants"][merchant_key]["shops"][shop_key]["shop_id"])


# --- one seller's session --------------------------------------------------------------------


def _error_code(response: httpx.Response) -> str | None:
    try:
        return str(response.json()["error"]["code"])
    except (ValueError, KeyError, TypeError):
        return None


class _Seller:
    """A seller's authenticated calls; logs in again (fresh TOTP code) when the access
    token expires."""

    def __init__(self, http: httpx.Client, email: str, entry: dict[str, Any]) -> None:
        self.http = http
        self.email = email
        self.entry = entry
        self.token: str | None = None

    def _totp(self) -> str:
        return pyotp.TOTP(self.entry["totp_secret"]).now()

    def login(self) -> None:
        for _ in range(3):  # a code of the step already used (confirm, just now) is refused
            r = self.http.post("/auth/login", json={
                "email": self.email, "password": self.entry["password"],
                "totp_code": self._totp()})
            if r.status_code == 200:
                self.token = r.json()["access_token"]
                return
            if _error_code(r) != "INVALID_TOTP":
                break
            time.sleep(_TOTP_STEP_S - time.time() % _TOTP_STEP_S + 0.5)
        raise SeedingError(f"login of {self.email}: {r.status_code} {r.text}")

    def call(self, method: str, path: str, *, ok: tuple[int, ...] = (200, 201),
             **kwargs: Any) -> httpx.Response:
        for attempt in range(2):
            if self.token is None:
                self.login()
            r = self.http.request(method, path, headers={"Authorization": f"Bearer {self.token}"},
                                  **kwargs)
            if r.status_code == 401 and attempt == 0:
                self.token = None
                continue
            if r.status_code in ok:
                return r
            raise SeedingError(f"{method} {path}: {r.status_code} {r.text}")
        raise AssertionError("unreachable")


# --- seeding ---------------------------------------------------------------------------------


class Seeder:
    def __init__(self, world: World, devices: tuple[DeviceSpec, ...], state: SeedState,
                 http: httpx.Client) -> None:
        self.world = world
        self.devices = devices
        self.state = state
        self.http = http
        self.categories: dict[str, str] = {}

    def load_categories(self) -> None:
        """Slug → id of the core's categories (admin-made; products without a match stay
        uncategorised)."""
        r = self.http.get("/categories")
        if r.status_code != 200:
            return

        def walk(nodes: list[dict[str, Any]]) -> Iterator[dict[str, Any]]:
            for node in nodes:
                yield node
                yield from walk(node.get("children", []))

        self.categories = {n["slug"]: n["id"] for n in walk(r.json())}

    def seed_merchant(self, m: MerchantSpec) -> None:
        entry = self.state.merchant(m.key)
        email = seller_email(self.world.seed, m.key)
        # Only a merchant an earlier run started can have rows whose ids were not saved.
        resumed = "user_id" in entry
        if "user_id" not in entry:
            password = secrets.token_urlsafe(18)
            r = self.http.post("/auth/register", json={
                "email": email, "password": password, "full_name": m.owner_name,
                "role": "seller", "phone": m.phone.replace(" ", ""),
                "preferred_language": m.language})
            if r.status_code != 201:
                hint = (" (the state file of this world was lost: seed another database or "
                        "pick another --seed)" if _error_code(r) == "EMAIL_TAKEN" else "")
                raise SeedingError(f"register {email}: {r.status_code} {r.text}{hint}")
            body = r.json()
            self.state.put(entry, user_id=body["user_id"], password=password,
                           totp_secret=body["totp_secret"], confirmed=False)
            self.state.save(force=True)
        seller = _Seller(self.http, email, entry)
        if not entry.get("confirmed"):
            r = self.http.post("/auth/totp/confirm", json={
                "email": email, "password": entry["password"], "code": seller._totp()})
            if r.status_code != 200:
                raise SeedingError(f"confirm TOTP of {email}: {r.status_code} {r.text}")
            seller.token = r.json()["access_token"]
            self.state.put(entry, confirmed=True)
            self.state.save()
        if "merchant_id" not in entry:
            found = self._find_merchant(seller, m) if resumed else None
            self.state.put(entry, merchant_id=found or seller.call(
                "POST", "/merchants", json={"name": m.name}).json()["id"])
            self.state.save()
        merchant_id = entry["merchant_id"]
        if m.needs_paid_plan and entry.get("plan") != "PRO":
            r = seller.call("POST", f"/merchants/{merchant_id}/subscription",
                            json={"plan": "PRO"}, ok=(200, 409))
            if r.status_code == 409 and _error_code(r) != "ALREADY_ON_PLAN":
                raise SeedingError(f"PRO trial of {m.key}: {r.text}")
            self.state.put(entry, plan="PRO")
            self.state.save()
        for shop in m.shops:
            self._seed_shop(seller, m, shop, merchant_id, resumed)
        if not entry.get("payout_onboarded"):
            seller.call("POST", f"/merchants/{merchant_id}/payout/onboard", json={
                "provider": m.payout_provider, "account_number": m.payout_account,
                "bank_name": m.payout_bank, "account_holder": m.owner_name})
            self.state.put(entry, payout_onboarded=True)
            self.state.save()
        for device in self.devices:
            if self.world.shop(device.shop_key).merchant_key == m.key:
                self._seed_device(seller, m, device)

    def _find_merchant(self, seller: _Seller, m: MerchantSpec) -> str | None:
        """After a crash between creating the merchant and saving its id."""
        for found in seller.call("GET", "/me/merchants").json():
            if found["name"] == m.name:
                return str(found["id"])
        return None

    def _seed_shop(self, seller: _Seller, m: MerchantSpec, shop: ShopSpec,
                   merchant_id: str, resumed: bool) -> None:
        entry = self.state.shop(m.key, shop.key)
        if "shop_id" not in entry:
            found = self._find_shop(seller, merchant_id, shop) if resumed else None
            self.state.put(entry, shop_id=found or seller.call(
                "POST", f"/merchants/{merchant_id}/shops", json={
                    "name": shop.name, "address": shop.address, "phone": shop.phone,
                    "lat": str(shop.lat), "lon": str(shop.lon),
                    "market": market(shop.market).name}).json()["id"])
            self.state.save()
        shop_id = entry["shop_id"]
        for product in shop.products:
            if product.ref in entry["products"]:
                continue
            body: dict[str, Any] = {
                "name": {"ru": product.name_ru, "ky": product.name_ky},
                "product_ref": product.ref,
                "category_id": self.categories.get(product.category or ""),
                "variants": [{"sku": v.sku, "price": str(v.price), "stock_qty": v.stock,
                              "barcode": v.barcode, "attributes": v.attributes}
                             for v in product.variants]}
            r = seller.call("POST", f"/shops/{shop_id}/products", json=body, ok=(201, 409))
            if r.status_code == 409:
                created = self._find_product(shop_id, product.variants[0].sku)
                if created is None:
                    raise SeedingError(f"product {product.ref} of {shop.key}: {r.text}")
            else:
                created = r.json()
            self.state.put(entry["products"], **{product.ref: {
                "product_id": created["id"],
                "variants": {v["sku"]: v["id"] for v in created["variants"]}}})
            self.state.save()

    def _find_shop(self, seller: _Seller, merchant_id: str, shop: ShopSpec) -> str | None:
        r = seller.call("GET", f"/merchants/{merchant_id}/eligibility")
        for s in r.json()["shops"]:
            found = self.http.get(f"/shops/{s['shop_id']}")
            if found.status_code == 200 and found.json()["name"] == shop.name:
                return str(s["shop_id"])
        return None

    def _find_product(self, shop_id: str, sku: str) -> dict[str, Any] | None:
        """A product created by a run that died before saving its id: find it by SKU."""
        offset = 0
        while True:
            r = self.http.get("/search/products", params={
                "shop_id": shop_id, "limit": 100, "offset": offset})
            if r.status_code != 200:
                return None
            page = r.json()
            for hit in page["items"]:
                card = self.http.get(f"/products/{hit['product_id']}").json()
                if any(v["sku"] == sku for v in card["variants"]):
                    return card  # type: ignore[no-any-return]
            if not page["has_more"]:
                return None
            offset += 100

    def _seed_device(self, seller: _Seller, m: MerchantSpec, device: DeviceSpec) -> None:
        devices = self.state.data["devices"]
        if device.key in devices:
            return
        shop_id = self.state.shop(m.key, device.shop_key)["shop_id"]
        body = seller.call("POST", f"/shops/{shop_id}/pos/devices",
                           json={"firmware_version": device.firmware_version}).json()
        self.state.put(devices, **{device.key: {
            "device_id": body["device_id"], "shop_key": device.shop_key,
            "shop_id": str(body["shop_id"]), "token": body["token"], "secret": body["secret"]}})
        self.state.save(force=True)


def seed_world(
    world: World, *, devices: int, api_url: str | None = None, state_path: Path | None = None,
    threads: int = 8, progress: Callable[[MerchantSpec], None] | None = None,
    timeout: float = 30.0,
) -> SeededWorld:
    """Create (or find again, from the state file) the world and `devices` terminals in the
    core behind `api_url`."""
    started = time.monotonic()
    api_url = (api_url or get_pos_settings().core_api_url).rstrip("/")
    state = SeedState.load(state_path or default_state_path(world.seed), seed=world.seed,
                           api_url=api_url)
    device_specs = world.devices(devices)
    limits = httpx.Limits(max_connections=threads * 2, max_keepalive_connections=threads * 2)
    with httpx.Client(base_url=api_url, timeout=timeout, limits=limits) as http:
        seeder = Seeder(world, device_specs, state, http)
        seeder.load_categories()
        try:
            with ThreadPoolExecutor(max_workers=max(1, threads),
                                    thread_name_prefix="seed") as pool:
                futures = {pool.submit(seeder.seed_merchant, m): m for m in world.merchants}
                for future in as_completed(futures):
                    future.result()
                    if progress is not None:
                        progress(futures[future])
        finally:
            state.save(force=True)
    return SeededWorld(world=world, devices=_seeded_devices(world, device_specs, state),
                       variants_by_shop=_seeded_variants(world, state), state=state,
                       seconds=time.monotonic() - started)


def _seeded_devices(world: World, specs: tuple[DeviceSpec, ...],
                    state: SeedState) -> tuple[SeededDevice, ...]:
    out = []
    for spec in specs:
        d = state.data["devices"][spec.key]
        out.append(SeededDevice(key=spec.key, device_id=d["device_id"], shop_key=spec.shop_key,
                                shop_id=d["shop_id"], market=world.shop(spec.shop_key).market,
                                token=d["token"], secret=d["secret"]))
    return tuple(out)


def _seeded_variants(world: World, state: SeedState) -> dict[str, tuple[SeededVariant, ...]]:
    out: dict[str, tuple[SeededVariant, ...]] = {}
    for m in world.merchants:
        for shop in m.shops:
            products = state.data["merchants"][m.key]["shops"][shop.key]["products"]
            out[shop.key] = tuple(
                SeededVariant(variant_id=products[p.ref]["variants"][v.sku], sku=v.sku,
                              barcode=v.barcode, price=v.price, stock=v.stock)
                for p in shop.products for v in p.variants)
    return out
