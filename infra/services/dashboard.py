"""What the seller dashboard needs beside the serving API (issue 10 §4).

* `dashboard-assets`: the charting library (Chart.js, the UMD build) from the npm
  registry, fetched with the machine's `npm pack` at a pinned version, its tarball checked
  against the pinned sha512 integrity (npm checks it against the registry's too), and
  the one file the page loads unpacked into `DASHBOARD_VENDOR_DIR`
  (default `.local/opt/dashboard-vendor`), where the serving API serves it from
  (`/dashboard/vendor/chart.umd.min.js`). Nothing minified is kept in git.
* `chromium`: Debian's `chromium` and `chromium-driver`, for the dashboard's browser test
  and the paint benchmark (driven by Selenium with the Debian driver: no browser or driver
  download). Installed only when missing; not started (a tool, like `spark-jars`).

Both are tools rather than services: `python -m infra install dashboard-assets chromium`
installs them; `make up` installs the assets (the serving API serves them), the tests and
the benchmark install Chromium when it is missing.
"""

from __future__ import annotations

import base64
import hashlib
import json
import os
import re
import shutil
import subprocess
import tarfile
import tempfile
from pathlib import Path

from infra.services.base import Health, Service
from infra.settings import get_settings

CHART_JS_PACKAGE = "chart.js"
CHART_JS_VERSION = "4.6.1"
CHART_JS_INTEGRITY = ("sha512-hJyniucsFmq//EvXYvJ6c6mahPoI3kaxdjVH8awTaJ/fDNWeSqqqArixMJWkWNN6"
                      "fcYvPU3HneSANFNYtRi61g==")
# Files of the package the dashboard serves (name in the tarball → name served).
CHART_JS_FILES = {"package/dist/chart.umd.min.js": "chart.umd.min.js",
                  "package/LICENSE.md": "chart.js-LICENSE.md"}
MANIFEST = "manifest.json"

APT_PACKAGES = ("chromium", "chromium-driver")


def _say(message: str) -> None:
    print(f"    {message}", flush=True)


class _Tool(Service):
    """Installed, never started: `start` only makes sure it is installed."""

    def launch(self) -> None:
        pass

    def start(self) -> None:
        self.install()

    def stop(self) -> bool:
        return False

    def pid(self) -> int | None:
        return None


class DashboardAssets(_Tool):
    name = "dashboard-assets"
    is_app = True  # installed with the apps (`make up`), not by `make test`'s `--no-apps`

    @property
    def directory(self) -> Path:
        return get_settings().dashboard_vendor_dir

    def installed_version(self) -> str | None:
        try:
            manifest = json.loads((self.directory / MANIFEST).read_text())
        except (OSError, ValueError):
            return None
        files_ok = all((self.directory / name).is_file() for name in CHART_JS_FILES.values())
        version = manifest.get(CHART_JS_PACKAGE)
        return version if files_ok and isinstance(version, str) else None

    def install(self) -> None:
        if self.installed_version() == CHART_JS_VERSION:
            return
        npm = shutil.which("npm")
        if npm is None:
            raise RuntimeError("npm is missing: the dashboard's charting library comes from "
                               "the npm registry (install Node.js and npm)")
        spec = f"{CHART_JS_PACKAGE}@{CHART_JS_VERSION}"
        _say(f"npm pack {spec}")
        cache = get_settings().local_dir / "cache" / "npm"
        with tempfile.TemporaryDirectory(prefix="dashboard-assets-") as tmp:
            out = subprocess.run(
                [npm, "pack", spec, "--json", "--pack-destination", tmp, "--cache", str(cache),
                 "--no-fund", "--no-audit"],
                cwd=tmp, check=True, capture_output=True, text=True, timeout=300)
            packed = json.loads(out.stdout)[0]
            tarball = Path(tmp) / packed["filename"]
            digest = base64.b64encode(hashlib.sha512(tarball.read_bytes()).digest()).decode()
            if f"sha512-{digest}" != CHART_JS_INTEGRITY or \
                    packed.get("integrity") != CHART_JS_INTEGRITY:
                raise RuntimeError(f"{spec}: the tarball's integrity is not the pinned one "
                                   f"(got sha512-{digest})")
            self.directory.mkdir(parents=True, exist_ok=True)
            with tarfile.open(tarball, "r:gz") as tar:
                for member, served in CHART_JS_FILES.items():
                    source = tar.extractfile(member)
                    if source is None:
                        raise RuntimeError(f"{spec}: {member} is not in the package")
                    target = self.directory / served
                    partial = target.with_suffix(target.suffix + ".part")
                    partial.write_bytes(source.read())
                    os.replace(partial, target)
        (self.directory / MANIFEST).write_text(json.dumps(
            {CHART_JS_PACKAGE: CHART_JS_VERSION, "integrity": CHART_JS_INTEGRITY,
             "files": sorted(CHART_JS_FILES.values())}, indent=2) + "\n")
        _say(f"{spec} in {self.directory}")

    def health(self) -> Health:
        version = self.installed_version()
        if version is None:
            return Health(False, f"not installed in {self.directory}")
        return Health(version == CHART_JS_VERSION,
                      f"{CHART_JS_PACKAGE} {version} in {self.directory}")


def _version(binary: Path) -> str | None:
    try:
        out = subprocess.run([str(binary), "--version"], capture_output=True, text=True,
                             timeout=30, check=True)
    except (OSError, subprocess.SubprocessError):
        return None
    found = re.search(r"(\d+)\.\d+\.\d+\.\d+", out.stdout)
    return found.group(0) if found else None


class Chromium(_Tool):
    """Debian's Chromium and its WebDriver (the same version: one source package)."""

    name = "chromium"

    def install(self) -> None:
        s = get_settings()
        if s.chromium_binary.exists() and s.chromedriver_binary.exists():
            return
        _say(f"installing {' '.join(APT_PACKAGES)} from Debian's packages (~100 MB)")
        env = {**os.environ, "DEBIAN_FRONTEND": "noninteractive"}
        subprocess.run(["apt-get", "update"], check=True, env=env)
        subprocess.run(["apt-get", "install", "-y", "--no-install-recommends",
                        "-o", "Dpkg::Progress-Fancy=0", *APT_PACKAGES], check=True, env=env)
        health = self.health()
        if not health.ok:
            raise RuntimeError(f"chromium installed but not usable: {health.detail}")
        _say(health.detail)

    def health(self) -> Health:
        s = get_settings()
        browser, driver = _version(s.chromium_binary), _version(s.chromedriver_binary)
        if browser is None or driver is None:
            return Health(False, f"{s.chromium_binary}: {browser or 'missing'}, "
                                 f"{s.chromedriver_binary}: {driver or 'missing'}")
        same = browser.split(".")[0] == driver.split(".")[0]
        return Health(same, f"Chromium {browser}, ChromeDriver {driver}"
                            + ("" if same else " (major versions differ)"))
