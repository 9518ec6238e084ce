"""The API as a protected resource of gatehouse (RFC 8707, RFC 9728): its URL in the one spelling
gatehouse writes in ``aud``, where its metadata is, and the metadata document itself.

    resource = ProtectedResource.parse("https://mcp.example.com/mcp", scopes=["mcp:tools"])
    resource.metadata_url   # https://mcp.example.com/.well-known/oauth-protected-resource/mcp
"""

from __future__ import annotations

import ipaddress
import re
import urllib.parse
from collections.abc import Iterable
from dataclasses import dataclass
from typing import Any

from .errors import ConfigurationError

__all__ = ["METADATA_HEADERS", "ProtectedResource", "canonical_resource", "scope_list"]

_WELL_KNOWN = "/.well-known/oauth-protected-resource"
_LOOPBACK = frozenset({"127.0.0.1", "[::1]", "localhost"})
_DEFAULT_PORTS = {"https": 443, "http": 80}
# RFC 6749's scope-token: printable ASCII but the space, the quote and the backslash.
_SCOPE = re.compile(r"[\x21\x23-\x5b\x5d-\x7e]+")

#: The headers of the metadata's answer besides ``Content-Type``: cacheable for a minute, as
#: gatehouse serves it.
METADATA_HEADERS = {"Cache-Control": "public, max-age=60"}


def canonical_resource(text: str) -> str:
    """The one spelling of a resource URL, gatehouse's: lower-case scheme and host (IDNA), no
    default port, no trailing slash but the root's (``https://MCP.example.com:443`` is
    ``https://mcp.example.com/``). ``https``, or ``http`` on a loopback address; no user, query
    or fragment. Raises :class:`ConfigurationError` for anything else."""
    url = urllib.parse.urlsplit(text.strip())
    try:
        host, port = url.hostname, url.port
    except ValueError:
        raise ConfigurationError(f"the resource {text!r} has no valid port") from None
    scheme = url.scheme.lower()
    if not scheme or not host:
        raise ConfigurationError(f"the resource {text!r} is not an absolute URL")
    try:
        host = f"[{ipaddress.IPv6Address(host).compressed}]"
    except ValueError:
        if not host.isascii():
            host = host.encode("idna").decode("ascii")
    usable = (
        (scheme == "https" or (scheme == "http" and host in _LOOPBACK))
        and url.username is None
        and "?" not in text
        and "#" not in text
    )
    if not usable:
        raise ConfigurationError(
            f"the resource {text!r}: write an https URL (http only on a loopback address) without user, query or fragment"
        )
    authority = host if port in (None, _DEFAULT_PORTS[scheme]) else f"{host}:{port}"
    return f"{scheme}://{authority}{_without_dot_segments(url.path).rstrip('/') or '/'}"


def _without_dot_segments(path: str) -> str:
    """The path with ``.`` and ``..`` segments resolved (RFC 3986 section 5.2.4), as URL parsers do."""
    segments: list[str] = []
    for segment in path.split("/")[1:]:
        if segment == "..":
            if segments:
                segments.pop()
        elif segment != ".":
            segments.append(segment)
    return "/" + "/".join(segments)


def scope_list(scopes: str | Iterable[str], what: str) -> tuple[str, ...]:
    """Scopes of the settings, checked: a list, or one string of space-separated scopes."""
    listed = tuple(scopes.split()) if isinstance(scopes, str) else tuple(scopes)
    for scope in listed:
        if not isinstance(scope, str) or not _SCOPE.fullmatch(scope):
            raise ConfigurationError(f"{what} are scopes such as 'mcp:tools', not {scope!r}")
    return listed


@dataclass(frozen=True)
class ProtectedResource:
    """An API listed in gatehouse's ``GATEHOUSE_RESOURCES``, as the verifier's ``resource=`` names it."""

    #: The resource's URL in canonical form: as gatehouse writes it in ``aud``.
    url: str
    #: RFC 9728's metadata URL: the well-known name inserted before the resource's path.
    metadata_url: str
    #: The path of ``metadata_url``, which the app answers.
    metadata_path: str
    #: The scopes it supports (``resource_scopes=``), for the metadata and the challenges.
    scopes: tuple[str, ...] | None = None
    #: Its name for people (``resource_name=``), for the metadata.
    name: str | None = None

    @classmethod
    def parse(
        cls, url: str, scopes: str | Iterable[str] | None = None, name: str | None = None
    ) -> ProtectedResource:
        """Raises :class:`ConfigurationError` for a URL gatehouse would not list."""
        if not isinstance(url, str):
            raise ConfigurationError(f"the resource is the API's URL as GATEHOUSE_RESOURCES lists it, not {url!r}")
        canonical = canonical_resource(url)
        parts = urllib.parse.urlsplit(canonical)
        metadata_path = _WELL_KNOWN + parts.path.rstrip("/")
        if name is not None and (not isinstance(name, str) or not name):
            raise ConfigurationError(f"the resource's name is a name for people, not {name!r}")
        return cls(
            url=canonical,
            metadata_url=f"{parts.scheme}://{parts.netloc}{metadata_path}",
            metadata_path=metadata_path,
            scopes=None if scopes is None else scope_list(scopes, "the resource's scopes"),
            name=name,
        )

    def holds(self, aud: Any) -> bool:
        """Whether a token's ``aud`` (a string or a list) names this resource, in any spelling."""
        for audience in aud if isinstance(aud, list) else [aud]:
            try:
                if isinstance(audience, str) and canonical_resource(audience) == self.url:
                    return True
            except ConfigurationError:
                continue
        return False

    def metadata(self, issuer: str) -> dict[str, Any]:
        """The metadata document (RFC 9728 section 2), naming gatehouse as its authorization server."""
        document: dict[str, Any] = {"resource": self.url, "authorization_servers": [issuer]}
        if self.scopes is not None:
            document["scopes_supported"] = list(self.scopes)
        document["bearer_methods_supported"] = ["header"]
        if self.name is not None:
            document["resource_name"] = self.name
        return document
