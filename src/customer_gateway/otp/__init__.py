"""One-time-password confirmed changes: codes, the pending-change record, and notifiers."""
