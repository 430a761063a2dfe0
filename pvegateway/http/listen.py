"""Where ``serve`` listens: its TLS files checked and its socket bound before any server runs."""

from __future__ import annotations

import socket
import ssl


def ssl_paths_ok(cert: str | None, key: str | None) -> None:
    if bool(cert) != bool(key):
        raise SystemExit("--tls-cert and --tls-key go together")
    if cert and key:
        ctx = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
        try:
            ctx.load_cert_chain(cert, key)
        except (OSError, ssl.SSLError) as err:
            raise SystemExit(f"cannot load TLS certificate/key: {err}") from None


def bind(host: str, port: int) -> socket.socket:
    """Bind before announcing: once ``serve`` prints where it listens, connections are accepted.

    The protocol must be IPPROTO_TCP, not 0: asyncio only turns Nagle off (TCP_NODELAY) for sockets
    that say so, and with Nagle on every keep-alive response waits for the client's delayed ACK.
    """
    family = socket.AF_INET6 if ":" in host else socket.AF_INET
    sock = socket.socket(family, socket.SOCK_STREAM, socket.IPPROTO_TCP)
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
    try:
        sock.bind((host, port))
    except OSError as err:
        sock.close()
        raise SystemExit(f"cannot listen on {host}:{port}: {err.strerror}") from None
    sock.listen(2048)
    sock.set_inheritable(True)
    return sock
