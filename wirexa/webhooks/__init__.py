"""Requests Wirexa makes to users' servers: signing now; the durable outbox comes with the
webhooks issue."""
