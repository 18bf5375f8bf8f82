"""The HTTP edge: Starlette middleware and health endpoints (no GraphQL here)."""
