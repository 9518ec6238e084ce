"""Protect FastAPI, Starlette and Flask routes with gatehouse access tokens.

The core, :class:`Verifier`, verifies tokens offline against gatehouse's published keys and
returns the caller's :class:`Auth`. The integrations are in :mod:`gatehouse_middleware.fastapi`,
:mod:`gatehouse_middleware.starlette` and :mod:`gatehouse_middleware.flask`.
"""

from .auth import Auth, Org
from .errors import ConfigurationError, Forbidden, GatehouseError, InsufficientAal, Unauthorized, Unavailable
from .verifier import DEFAULT_ALGORITHMS, Verifier, bearer_token, require

__version__ = "0.1.0"

__all__ = [
    "DEFAULT_ALGORITHMS",
    "Auth",
    "ConfigurationError",
    "Forbidden",
    "GatehouseError",
    "InsufficientAal",
    "Org",
    "Unauthorized",
    "Unavailable",
    "Verifier",
    "bearer_token",
    "require",
]
