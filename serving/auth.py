"""Authentication and roles of the analytics API: PetPro JWTs and service-account API keys.

Two kinds of bearer credentials are accepted:

- **JWTs** signed HS256 with ``settings.jwt_secret`` (the PetPro auth service's secret),
  carrying ``sub`` and ``role`` claims and an ``exp``. When the secret is empty, JWT auth is
  disabled (logged once at startup) and only API keys work.
- **API keys** configured as ``name:role:sha256hex`` entries in ``settings.api_keys``; the
  presented key is hashed and compared in constant time, so the configuration never holds
  a usable secret. Keys come as ``Authorization: Bearer <key>`` or ``X-API-Key: <key>``.

``admin`` may call everything; ``analyst`` may call the v2 analytics and the reports; any
other role is refused with 403. A missing, malformed, badly signed or expired credential is
a 401. :func:`mint_token` makes a token for the demo and for tests.
"""

from __future__ import annotations

import hashlib
import hmac
import logging
import time
from dataclasses import dataclass

import jwt
from fastapi import HTTPException, Request

from petpro.errors import PetProError
from petpro.settings import Settings

log = logging.getLogger(__name__)

ROLES = ("admin", "analyst")
ADMIN_ONLY: tuple[str, ...] = ("admin",)
ANALYTICS: tuple[str, ...] = ("admin", "analyst")


class AuthConfigError(PetProError):
    """The API's auth settings cannot be used; the message says which one and how to fix it."""


@dataclass(frozen=True)
class Principal:
    """Who is calling: subject, role, and how they proved it."""

    subject: str
    role: str
    method: str  # "jwt" | "api_key"


@dataclass(frozen=True)
class ApiKey:
    name: str
    role: str
    digest: bytes


def parse_api_keys(spec: str) -> list[ApiKey]:
    """Parse ``name:role:sha256hex`` entries (comma-separated)."""
    keys: list[ApiKey] = []
    for raw in spec.split(","):
        entry = raw.strip()
        if not entry:
            continue
        parts = entry.split(":")
        if len(parts) != 3:
            raise AuthConfigError(
                f"PETPRO_API_KEYS entry {entry.split(':')[0]!r} is not 'name:role:sha256hex'; fix the entry"
            )
        name, role, hexdigest = (p.strip() for p in parts)
        try:
            digest = bytes.fromhex(hexdigest)
        except ValueError:
            digest = b""
        if len(digest) != 32:
            raise AuthConfigError(
                f"PETPRO_API_KEYS entry {name!r}: the third part must be the 64-hex-digit SHA-256 of the "
                "key (e.g. `printf %s KEY | sha256sum`)"
            )
        keys.append(ApiKey(name=name, role=role, digest=digest))
    return keys


def hash_api_key(key: str) -> str:
    """The hex SHA-256 to put in ``PETPRO_API_KEYS`` for a given key."""
    return hashlib.sha256(key.encode()).hexdigest()


def mint_token(
    settings: Settings, *, role: str = "admin", sub: str = "demo-admin", ttl_hours: float = 24
) -> str:
    """A JWT the API accepts (HS256 with ``settings.jwt_secret``)."""
    if not settings.jwt_secret:
        raise AuthConfigError(
            "PETPRO_JWT_SECRET is empty, so the API accepts no JWTs; set it (e.g. `export "
            "PETPRO_JWT_SECRET=$(openssl rand -hex 32)`) before minting a token"
        )
    now = int(time.time())
    claims = {"sub": sub, "role": role, "iat": now, "exp": now + int(ttl_hours * 3600)}
    return jwt.encode(claims, settings.jwt_secret, algorithm="HS256")


class Authenticator:
    """Checks the credentials of a request and returns the :class:`Principal`."""

    def __init__(self, settings: Settings) -> None:
        self.secret = settings.jwt_secret
        self.keys = parse_api_keys(settings.api_keys)
        # Verified tokens until their expiry: signature checks are the costliest part of a
        # cached request. Only tokens that verified are kept, so forgeries are never cached.
        self._verified: dict[str, tuple[Principal, float]] = {}
        if not self.secret:
            log.warning(
                "PETPRO_JWT_SECRET is empty: JWT authentication is DISABLED, only API keys "
                "(PETPRO_API_KEYS) are accepted"
            )
        if not self.secret and not self.keys:
            log.warning("no JWT secret and no API keys: every analytics request will get 401")

    def _credential(self, request: Request) -> str | None:
        header = request.headers.get("authorization")
        if header:
            scheme, _, value = header.partition(" ")
            if scheme.lower() == "bearer" and value.strip():
                return value.strip()
            return None
        key = request.headers.get("x-api-key")
        return key.strip() if key and key.strip() else None

    def authenticate(self, request: Request) -> Principal:
        token = self._credential(request)
        if token is None:
            raise _unauthorized("missing bearer token or X-API-Key")
        if token.count(".") == 2:
            return self._jwt(token)
        return self._api_key(token)

    def _jwt(self, token: str) -> Principal:
        cached = self._verified.get(token)
        if cached is not None and cached[1] > time.time():
            return cached[0]
        principal, expires = self._verify_jwt(token)
        if len(self._verified) >= 4096:  # bounded: forget everything rather than grow
            self._verified.clear()
        self._verified[token] = (principal, expires)
        return principal

    def _verify_jwt(self, token: str) -> tuple[Principal, float]:
        if not self.secret:
            raise _unauthorized(
                "JWT authentication is disabled on this server (no PETPRO_JWT_SECRET)"
            )
        try:
            claims = jwt.decode(
                token,
                self.secret,
                algorithms=["HS256"],
                options={"require": ["exp", "sub"]},
            )
        except jwt.ExpiredSignatureError:
            raise _unauthorized("token expired") from None
        except jwt.InvalidTokenError as exc:
            raise _unauthorized(f"invalid token ({type(exc).__name__})") from None
        role = claims.get("role")
        if not isinstance(role, str):
            raise _unauthorized("token has no role claim")
        return Principal(subject=str(claims["sub"]), role=role, method="jwt"), float(claims["exp"])

    def _api_key(self, key: str) -> Principal:
        digest = hashlib.sha256(key.encode()).digest()
        match: ApiKey | None = None
        for entry in self.keys:  # compare against every entry: timing does not reveal which
            if hmac.compare_digest(entry.digest, digest):
                match = entry
        if match is None:
            raise _unauthorized("unknown API key")
        return Principal(subject=f"apikey:{match.name}", role=match.role, method="api_key")

    def is_api_key(self, value: str) -> bool:
        """Whether ``value`` is one of the configured API keys (the audit log redacts those)."""
        if not self.keys or len(value) > 1024:
            return False
        digest = hashlib.sha256(value.strip().encode()).digest()
        return any(hmac.compare_digest(entry.digest, digest) for entry in self.keys)

    def require(self, request: Request, roles: tuple[str, ...]) -> Principal:
        """Authenticate and check the role; records the principal for the audit trail."""
        try:
            principal = self.authenticate(request)
        except HTTPException as exc:
            request.state.auth_failure = exc.detail
            raise
        request.state.principal = principal
        if principal.role not in roles:
            request.state.auth_failure = f"role {principal.role!r} not allowed"
            raise HTTPException(
                status_code=403,
                detail=f"role {principal.role!r} may not call this endpoint (needs one of {list(roles)})",
            )
        return principal


def _unauthorized(reason: str) -> HTTPException:
    return HTTPException(
        status_code=401,
        detail=f"not authenticated: {reason}",
        headers={"WWW-Authenticate": "Bearer"},
    )
