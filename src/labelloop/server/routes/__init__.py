"""API routes, one module per area: auth, annotate (the queue), admin, media."""
