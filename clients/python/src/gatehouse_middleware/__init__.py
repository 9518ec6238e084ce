"""Protect FastAPI, Starlette and Flask routes with gatehouse access tokens.

The core, :class:`Verifier`, verifies tokens offline against gatehouse's published keys and
returns the caller's :class:`Auth`. The integrations are in :mod:`gatehouse_middleware.fastapi`,
:mod:`gatehouse_middleware.starlette` and :mod:`gatehouse_middleware.flask`. With ``resource=``
the API is a protected resource of gatehouse (:class:`ProtectedResource`).
"""

from .auth import Auth, Org
from .errors import (
    Challenge,
    ConfigurationError,
    Forbidden,
    GatehouseError,
    InsufficientAal,
    InsufficientScope,
    Unauthorized,
    Unavailable,
)
from .resource import ProtectedResource, canonical_resource
from .verifier import DEFAULT_ALGORITHMS, Verifier, bearer_token, require

__version__ = "0.1.0"

__all__ = [
    "DEFAULT_ALGORITHMS",
    "Auth",
    "Challenge",
    "ConfigurationError",
    "Forbidden",
    "GatehouseError",
    "InsufficientAal",
    "InsufficientScope",
    "Org",
    "ProtectedResource",
    "Unauthorized",
    "Unavailable",
    "Verifier",
    "bearer_token",
    "canonical_resource",
    "require",
]
