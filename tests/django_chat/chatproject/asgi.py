"""ASGI entry point: Django for HTTP, Channels for WebSockets (like real apps)."""
import os

os.environ.setdefault("DJANGO_SETTINGS_MODULE", "chatproject.settings")

from django.core.asgi import get_asgi_application  # noqa: E402

# Must run before importing anything that touches models.
django_asgi_app = get_asgi_application()

from channels.auth import AuthMiddlewareStack  # noqa: E402
from channels.routing import ProtocolTypeRouter, URLRouter  # noqa: E402
from channels.security.websocket import AllowedHostsOriginValidator  # noqa: E402

from chat.middleware import QueryStringTokenAuthMiddleware  # noqa: E402
from chat.routing import websocket_urlpatterns  # noqa: E402

application = ProtocolTypeRouter(
    {
        "http": django_asgi_app,
        "websocket": AllowedHostsOriginValidator(
            AuthMiddlewareStack(QueryStringTokenAuthMiddleware(URLRouter(websocket_urlpatterns)))
        ),
    }
)
