"""Building a service's binary from source with `go install` (through the Go module proxy)."""

from __future__ import annotations

import os
import shutil
import subprocess
from pathlib import Path


def go_install(module: str, binary: Path, *, what: str, expected: str) -> None:
    """`go install module` into binary's directory, unless the binary is already there.

    Static (CGO off) so the binary runs wherever the repo's .local/ is; `-v` lists the
    packages as they compile, the progress of a build that takes minutes.
    """
    if binary.exists():
        return
    print(f"  building {what} from source: go install {module} ({expected})", flush=True)
    binary.parent.mkdir(parents=True, exist_ok=True)
    go = shutil.which("go") or "/usr/local/go/bin/go"  # Go's own tarball layout
    subprocess.run(
        [go, "install", "-v", module],
        check=True,
        env={**os.environ, "GOBIN": str(binary.parent), "CGO_ENABLED": "0"},
    )
