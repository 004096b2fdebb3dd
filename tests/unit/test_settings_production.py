"""Production refuses to start with the public default credentials."""

from __future__ import annotations

import pytest
from pydantic import ValidationError

from infra.settings import SECRET_FIELDS, Settings

STRONG = {
    "CORE_JWT_SECRET": "j" * 40, "CORE_PSEUDONYM_SECRET": "p" * 40,
    "PLATFORM_INTERNAL_TOKEN": "i" * 40, "CORE_PSP_WEBHOOK_SECRET": "w" * 40,
    "POSTGRES_PASSWORD": "a-real-password", "S3_SECRET_KEY": "a-real-s3-secret",
    "DATA_ENCRYPTION_KEYS": "cmVhbC1rZXktcmVhbC1rZXktcmVhbC1rZXktcmVhbDA=",
    "ADS_TOKEN_SECRET": "t" * 40, "CORE_CODE_PEPPER": "c" * 40,
    "NOTIFY_WEBHOOK_SECRET": "n" * 40, "NOTIFY_UNSUBSCRIBE_SECRET": "u" * 40,
}


def _settings(monkeypatch: pytest.MonkeyPatch, env: dict[str, str]) -> Settings:
    for key in (*STRONG, "PLATFORM_ENV"):
        monkeypatch.delenv(key, raising=False)
    for key, value in env.items():
        monkeypatch.setenv(key, value)
    return Settings(_env_file=None)  # type: ignore[call-arg]


def test_local_runs_on_the_defaults(monkeypatch: pytest.MonkeyPatch) -> None:
    assert _settings(monkeypatch, {}).environment == "local"


def test_production_with_every_secret_set_starts(monkeypatch: pytest.MonkeyPatch) -> None:
    assert _settings(monkeypatch, {"PLATFORM_ENV": "production", **STRONG}).environment \
        == "production"


@pytest.mark.parametrize("left", list(STRONG))
def test_production_refuses_any_default_credential(monkeypatch: pytest.MonkeyPatch,
                                                   left: str) -> None:
    env = {"PLATFORM_ENV": "production", **{k: v for k, v in STRONG.items() if k != left}}
    with pytest.raises(ValidationError, match=left):
        _settings(monkeypatch, env)


def test_production_refuses_a_short_signing_key(monkeypatch: pytest.MonkeyPatch) -> None:
    with pytest.raises(ValidationError, match="shorter than 32 characters: CORE_JWT_SECRET"):
        _settings(monkeypatch, {"PLATFORM_ENV": "production", **STRONG,
                                "CORE_JWT_SECRET": "short"})


def test_every_secret_is_covered() -> None:
    assert len(SECRET_FIELDS) == len(STRONG)
