"""MinIO built from source with `go install` (through the Go module proxy), data in `.local/`."""

from __future__ import annotations

import boto3
import httpx
from botocore.config import Config

from infra import process
from infra.golang import go_install
from infra.services.base import Health, Service
from infra.settings import get_settings

# MinIO publishes no semver tags; this pseudo-version pins one commit of its main branch.
MINIO_MODULE = "github.com/minio/minio@v0.0.0-20260212201848-7aac2a2c5b7c"


def s3_client():
    s = get_settings()
    return boto3.client(
        "s3",
        endpoint_url=s.s3_endpoint_url,
        aws_access_key_id=s.s3_access_key,
        aws_secret_access_key=s.s3_secret_key,
        region_name=s.s3_region,
        config=Config(s3={"addressing_style": "path"}, retries={"max_attempts": 3}),
    )


class MinIO(Service):
    name = "minio"
    ready_timeout = 60.0

    def __init__(self) -> None:
        s = get_settings()
        self.s = s
        self.managed = s.s3_endpoint_override is None
        self.binary = s.local_dir / "bin" / "minio"
        self.data = s.data_dir / "minio"

    def install(self) -> None:
        go_install(MINIO_MODULE, self.binary, what="MinIO", expected="a few minutes")

    def launch(self) -> None:
        s = self.s
        self.data.mkdir(parents=True, exist_ok=True)
        process.spawn(
            self.name,
            [str(self.binary), "server", str(self.data),
             "--address", f"{s.bind_host}:{s.minio_port}",
             "--console-address", f"{s.bind_host}:{s.minio_console_port}", "--quiet"],
            env={
                "MINIO_ROOT_USER": s.s3_access_key,
                "MINIO_ROOT_PASSWORD": s.s3_secret_key,
                "MINIO_BROWSER": "on",
                "MINIO_UPDATE": "off",
            },
        )

    def health(self) -> Health:
        try:
            r = httpx.get(f"{self.s.s3_endpoint_url}/minio/health/ready", timeout=2)
            if r.status_code == 200:
                return Health(True, "ready")
            # An external S3 has no MinIO health path: a bucket listing proves it instead.
            if not self.managed:
                s3_client().list_buckets()
                return Health(True, "S3 reachable")
            return Health(False, f"HTTP {r.status_code}")
        except Exception as exc:
            return Health(False, str(exc) or type(exc).__name__)

    def after_start(self) -> None:
        client = s3_client()
        existing = {b["Name"] for b in client.list_buckets().get("Buckets", [])}
        if self.s.lake_bucket not in existing:
            client.create_bucket(Bucket=self.s.lake_bucket)
