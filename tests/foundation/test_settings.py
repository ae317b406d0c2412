"""Settings: derived paths, refusal of an empty PII key, and the demo's generated secrets."""

from __future__ import annotations

from pathlib import Path

import jwt
import pytest

from petpro.settings import SettingsError, get_settings


def test_every_path_derives_from_home(tmp_path: Path) -> None:
    s = get_settings(home=tmp_path)
    for path in (s.raw_dir, s.state_dir, s.build_db, s.published_db, s.exports_dir, s.pg_dir):
        assert tmp_path in path.parents


def test_empty_pii_key_is_refused_outside_the_demo(tmp_path: Path) -> None:
    s = get_settings(home=tmp_path, pii_key="")
    with pytest.raises(SettingsError, match="PETPRO_PII_KEY"):
        s.resolved_pii_key()
    generated = s.resolved_pii_key(allow_generated=True)
    assert len(generated) == 64
    assert (
        get_settings(home=tmp_path, pii_key="").resolved_pii_key(allow_generated=True) == generated
    )
    assert get_settings(home=tmp_path, pii_key="explicit").resolved_pii_key() == b"explicit"


def test_demo_token_is_accepted_by_a_later_serve(tmp_path: Path, monkeypatch) -> None:
    from cli.serve import dashboard_hint

    monkeypatch.setenv("PETPRO_HOME", str(tmp_path))
    monkeypatch.delenv("PETPRO_JWT_SECRET", raising=False)
    token = dashboard_hint().strip().splitlines()[-1]
    # What `petpro serve` resolves in a new process: the same home, no configured secret.
    secret = get_settings().with_demo_jwt_secret().jwt_secret
    assert secret
    claims = jwt.decode(token, secret, algorithms=["HS256"])
    assert claims["role"] == "admin"
    # A configured secret always wins over the generated one.
    assert get_settings(jwt_secret="configured").with_demo_jwt_secret().jwt_secret == "configured"
