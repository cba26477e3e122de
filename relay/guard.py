"""Which addresses outbound calls may reach (SSRF), and connections that go only to those.

An address is public when it is global and none of private, loopback, link-local, reserved,
multicast or unspecified, and so is every IPv4 address carried inside it: an IPv4-mapped or NAT64
(64:ff9b::/96) address is judged as the IPv4 address it stands for, a 6to4 or Teredo address as
itself and the IPv4 addresses inside it.

A host name is checked by every address it resolves to, and the connection is then made to one of
exactly those addresses: the name is never resolved again, so a DNS answer that changes in
between (rebinding) cannot reach anything unchecked. The Host header, TLS SNI and certificate
checks still use the name.

Relay calls (relay.http, relay.chat) follow PROVIDERS, which the app sets from its
ALLOW_PRIVATE_PROVIDERS config; the alerts feature gives its own rule to make_session().
"""

from __future__ import annotations

import ipaddress
import socket
import sys
from collections.abc import Callable
from typing import Any
from urllib.parse import urlsplit

import requests
from requests.adapters import HTTPAdapter
from requests.utils import select_proxy
from urllib3.connection import HTTPConnection, HTTPSConnection
from urllib3.exceptions import ConnectTimeoutError, NameResolutionError, NewConnectionError
from urllib3.util import connection as util_connection

IPAddress = ipaddress.IPv4Address | ipaddress.IPv6Address

_NAT64 = ipaddress.ip_network("64:ff9b::/96")  # well-known prefix: the last 32 bits are IPv4
_LOCAL_NAT64 = ipaddress.ip_network("64:ff9b:1::/48")  # local-use translators (RFC 8215)


class Blocked(requests.exceptions.ConnectionError):
    """A call we refuse to make: `code` is "private_address" or "unresolvable"."""

    def __init__(self, code: str):
        super().__init__(code)
        self.code = code


class Rule:
    """Whether private addresses may be called; read at every new connection."""

    def __init__(self, allowed: bool = False):
        self.allowed = allowed

    def __call__(self) -> bool:
        return self.allowed


# Provider base URLs receive members' stored keys: private addresses only by the admin's choice.
PROVIDERS = Rule()


def carried(address: IPAddress) -> list[IPAddress]:
    """The addresses to judge: an IPv4-mapped or NAT64 address is the IPv4 address it stands
    for; a 6to4 or Teredo address is itself plus the IPv4 addresses inside it."""
    if not isinstance(address, ipaddress.IPv6Address):
        return [address]
    if address.ipv4_mapped is not None:
        return [address.ipv4_mapped]
    if address in _NAT64:  # (all of ::/8 is "reserved", so the wrapper itself would not pass)
        return [ipaddress.IPv4Address(int(address) & 0xFFFFFFFF)]
    found: list[IPAddress] = [address]
    if address.sixtofour is not None:
        found.append(address.sixtofour)
    if address.teredo is not None:
        found.extend(address.teredo)
    return found


def is_public(address: IPAddress) -> bool:
    """True when the address and all it carries may be called from a server (see module doc)."""
    for part in carried(address):
        if (
            part.is_private
            or part.is_loopback
            or part.is_link_local
            or part.is_reserved
            or part.is_multicast
            or part.is_unspecified
            or not part.is_global
        ):
            return False
        if isinstance(part, ipaddress.IPv6Address) and (part.is_site_local or part in _LOCAL_NAT64):
            return False
    return True


def resolve(host: str, port: int) -> list[tuple[Any, ...]]:
    """Every socket address the host name (or IP literal) stands for; OSError/UnicodeError."""
    family = util_connection.allowed_gai_family()
    infos = socket.getaddrinfo(host.strip("[]"), port, family, socket.SOCK_STREAM)
    return [info[4] for info in infos]


def check(sockaddrs: list[tuple[Any, ...]], *, allow_private: bool) -> list[tuple[Any, ...]]:
    """The addresses, or Blocked("private_address") when any one of them is not public."""
    if not allow_private:
        for sockaddr in sockaddrs:
            if not is_public(ipaddress.ip_address(sockaddr[0])):
                raise Blocked("private_address")
    return sockaddrs


def addresses(host: str, port: int, *, allow_private: bool) -> list[tuple[Any, ...]]:
    """Resolve and check: the addresses a connection may use, or Blocked."""
    try:
        found = resolve(host, port)
    except (OSError, UnicodeError, ValueError) as error:
        raise Blocked("unresolvable") from error
    return check(found, allow_private=allow_private)


def check_url(url: str, *, allow_private: bool) -> None:
    """Blocked when an http(s) URL's host resolves to an address that may not be called."""
    parts = urlsplit(url)
    port = parts.port or (443 if parts.scheme == "https" else 80)
    addresses(parts.hostname or "", port, allow_private=allow_private)


def blocked(error: BaseException) -> Blocked | None:
    """The Blocked inside whatever requests and urllib3 wrapped it in, if any."""
    seen: set[int] = set()
    todo: list[object] = [error]
    while todo:
        err = todo.pop()
        if not isinstance(err, BaseException) or id(err) in seen:
            continue
        seen.add(id(err))
        if isinstance(err, Blocked):
            return err
        todo.extend((err.__cause__, err.__context__, getattr(err, "reason", None), *err.args))
    return None


def _never() -> bool:
    return False


class _Pinned:
    """urllib3 connection mixin: resolve once, check every address, connect only to those."""

    _dns_host: str
    port: int
    timeout: Any
    source_address: Any
    socket_options: Any
    proxy: Any
    host: str

    def __init__(self, *args: Any, allow_private: Callable[[], bool] = _never, **kw: Any):
        super().__init__(*args, **kw)
        self._allow_private = allow_private

    def _new_conn(self) -> socket.socket:
        if self.proxy is not None:
            # The admin's proxy resolves the target: GuardedAdapter checked it before sending.
            return super()._new_conn()  # type: ignore[misc]
        try:
            found = resolve(self._dns_host, self.port)
        except (OSError, UnicodeError) as error:
            reason = error if isinstance(error, socket.gaierror) else socket.gaierror(str(error))
            raise NameResolutionError(self.host, self, reason) from error  # type: ignore[arg-type]
        check(found, allow_private=self._allow_private())
        failure: OSError | None = None
        for sockaddr in found:
            try:
                sock = util_connection.create_connection(
                    (sockaddr[0], self.port),
                    self.timeout,
                    source_address=self.source_address,
                    socket_options=self.socket_options,
                )
            except TimeoutError as error:
                message = f"Connection to {self.host} timed out. (connect timeout={self.timeout})"
                raise ConnectTimeoutError(self, message) from error
            except OSError as error:
                failure = error
                continue
            sys.audit("http.client.connect", self, self.host, self.port)
            return sock
        message = f"Failed to establish a new connection: {failure}"
        raise NewConnectionError(self, message) from failure  # type: ignore[arg-type]


class PinnedHTTPConnection(_Pinned, HTTPConnection):
    """HTTP to a checked address only."""


class PinnedHTTPSConnection(_Pinned, HTTPSConnection):
    """HTTPS to a checked address only; SNI and the certificate check use the host name."""


class GuardedAdapter(HTTPAdapter):
    """A requests adapter whose connections go only to addresses the rule allows."""

    connection_classes: dict[str, type] = {
        "http": PinnedHTTPConnection,
        "https": PinnedHTTPSConnection,
    }

    def __init__(self, allow_private: Callable[[], bool] = PROVIDERS, **kw: Any) -> None:
        self.allow_private = allow_private
        super().__init__(**kw)

    def get_connection_with_tls_context(self, request, verify, proxies=None, cert=None):
        if select_proxy(request.url, proxies or {}):
            # A proxy from the environment connects for us: check the target's addresses now
            # (the proxy resolves the name again; that is the admin's choice of proxy).
            check_url(request.url, allow_private=self.allow_private())
        pool = super().get_connection_with_tls_context(request, verify, proxies, cert)
        ours = self.connection_classes[pool.scheme]
        if pool.ConnectionCls in (HTTPConnection, HTTPSConnection, ours):  # not SOCKS
            pool.ConnectionCls = ours
            pool.conn_kw["allow_private"] = self.allow_private
        return pool
