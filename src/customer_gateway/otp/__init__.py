"""One-time-password confirmed changes: codes, the shared store, limits and notifiers."""
