"""Executing the analysts' notebooks (`notebooks/*.ipynb`) top to bottom, as a test does.

Each runs in its own kernel (the test's Python), with the working directory `notebooks/`
(so `import lakehouse` works) and `env` added to the environment: the serving API's URL
(`SERVING_API_URL`), an analyst token (`ANALYST_TOKEN`) and the lake (`LAKE_PREFIX`). A
failing cell fails the run; the executed copies (with outputs) are written to `out_dir`.
"""

from __future__ import annotations

import os
import time
from pathlib import Path

from infra.settings import REPO_ROOT

NOTEBOOKS_DIR = REPO_ROOT / "notebooks"
CELL_TIMEOUT_SECONDS = 120


def notebooks() -> list[Path]:
    return sorted(NOTEBOOKS_DIR.glob("*.ipynb"))


def run_notebooks(env: dict[str, str], out_dir: Path) -> dict[str, str]:
    """name -> the text of its outputs, each notebook executed top to bottom."""
    import nbformat
    from nbclient import NotebookClient

    out_dir.mkdir(parents=True, exist_ok=True)
    outputs: dict[str, str] = {}
    old = {k: os.environ.get(k) for k in env}
    os.environ.update(env)  # the kernel inherits this process's environment
    try:
        for path in notebooks():
            book = nbformat.read(path, as_version=4)
            started = time.monotonic()
            client = NotebookClient(book, timeout=CELL_TIMEOUT_SECONDS, kernel_name="python3",
                                    resources={"metadata": {"path": str(NOTEBOOKS_DIR)}})
            try:
                client.execute()
            finally:
                nbformat.write(book, out_dir / path.name)
            outputs[path.stem] = "\n".join(
                str(o.get("text", "")) + str(o.get("data", {}).get("text/plain", ""))
                for cell in book.cells for o in cell.get("outputs", []))
            print(f"{path.name}: {time.monotonic() - started:.1f} s")
    finally:
        for k, v in old.items():
            if v is None:
                os.environ.pop(k, None)
            else:
                os.environ[k] = v
    return outputs


def analyst_token(dsn: str) -> str:
    """A new analyst of the core database `dsn`, signed in (TOTP confirmed): its access
    token, as `python -m marketplace_core.accounts create-analyst` + login would give."""
    import secrets

    from marketplace_core.accounts import service, totp
    from marketplace_core.db import transaction

    password = secrets.token_urlsafe(16)
    email = f"analyst-{secrets.token_hex(4)}@test.example.kg"
    with transaction(dsn) as conn:
        reg = service.create_analyst(conn, email=email, password=password,
                                     full_name="Test analyst", password_rounds=4)
    assert reg.totp is not None
    with transaction(dsn) as conn:
        pair = service.confirm_totp(conn, email, password, totp.current_code(reg.totp.secret))
    return pair.access_token
