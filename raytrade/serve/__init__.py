"""Layer 4 Serve: the REST API deployment and API keys."""

from raytrade.serve.api import ApiConfig, ApiGateway, app, build
from raytrade.serve.keys import ApiKey, KeyRing, Role, new_key, revoke_event

__all__ = ["ApiConfig", "ApiGateway", "ApiKey", "KeyRing", "Role", "app", "build", "new_key", "revoke_event"]
