"""A free loopback TCP port for the servers tests start (PostgreSQL, SMTP): the one
definition every test module imports."""

from __future__ import annotations

import socket


def free_port() -> int:
    """A port nothing listens on now; the server started with it binds it moments later."""
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]
