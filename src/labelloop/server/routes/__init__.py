"""API routes, one module per area: auth, annotate (the queue), admin, media."""

__all__: list[str] = []  # routers are reached through their modules (auth, annotate, admin, media)
