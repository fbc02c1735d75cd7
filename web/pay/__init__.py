"""Card checkout pages: ``routes(cards, client_key=…, sdk_url=…) -> list[BaseRoute]``."""

from web.pay.routes import routes

__all__ = ["routes"]
