"""Deterministic identifiers and network addresses drawn from a seeded generator.

UUIDs are version-4 shaped but come from the caller's ``numpy`` generator, so the same seed
gives the same keys (``gen_random_uuid()`` would not). IP addresses are public-looking IPv4
(and some IPv6) addresses; they are synthetic and point at nobody.
"""

from __future__ import annotations

import numpy as np

# First octets of large public IPv4 allocations (no private, loopback or multicast ranges).
_PUBLIC_V4_FIRST = np.array(
    [24, 50, 63, 66, 67, 68, 69, 71, 73, 75, 76, 77, 78, 79, 80, 81, 82, 83, 84, 85, 86, 87, 88,
     89, 90, 91, 92, 93, 94, 95, 96, 97, 98, 99, 104, 107, 108, 109, 151, 176, 178, 185, 188, 212,
     213, 217],
    dtype=np.int64,
)  # fmt: skip
_V6_PREFIXES = np.array(["2a02:8108", "2600:1700", "2a01:e0a", "2001:8a0", "2607:fb90"])


def uuids(rng: np.random.Generator, n: int) -> np.ndarray:
    """``n`` UUID strings (numpy ``<U36``) from ``rng``."""
    if n == 0:
        return np.empty(0, dtype="<U36")
    raw = rng.integers(0, 256, size=(n, 16), dtype=np.uint8)
    raw[:, 6] = (raw[:, 6] & 0x0F) | 0x40
    raw[:, 8] = (raw[:, 8] & 0x3F) | 0x80
    hexed = np.frombuffer(raw.tobytes().hex().encode("ascii"), dtype="S1").reshape(n, 32)
    out = np.full((n, 36), b"-", dtype="S1")
    out[:, 0:8] = hexed[:, 0:8]
    out[:, 9:13] = hexed[:, 8:12]
    out[:, 14:18] = hexed[:, 12:16]
    out[:, 19:23] = hexed[:, 16:20]
    out[:, 24:36] = hexed[:, 20:32]
    return out.view("S36").ravel().astype("<U36")


def ip_addresses(rng: np.random.Generator, n: int, v6_share: float = 0.12) -> np.ndarray:
    """``n`` IP address strings, about ``v6_share`` of them IPv6."""
    first = rng.choice(_PUBLIC_V4_FIRST, size=n)
    rest = rng.integers(0, 256, size=(n, 3))
    rest[:, 2] = np.clip(rest[:, 2], 1, 254)
    v4 = np.char.add(
        np.char.add(np.char.add(first.astype(str), "."), np.char.add(rest[:, 0].astype(str), ".")),
        np.char.add(np.char.add(rest[:, 1].astype(str), "."), rest[:, 2].astype(str)),
    )
    out = v4.astype(object)
    is_v6 = rng.random(n) < v6_share
    k = int(is_v6.sum())
    if k:
        groups = rng.integers(0, 0x10000, size=(k, 6))
        prefix = rng.choice(_V6_PREFIXES, size=k)
        v6 = [
            f"{p}:{g[0]:x}:{g[1]:x}:{g[2]:x}:{g[3]:x}:{g[4]:x}:{g[5]:x}"
            for p, g in zip(prefix, groups, strict=True)
        ]
        out[is_v6] = np.array(v6, dtype=object)
    return out
