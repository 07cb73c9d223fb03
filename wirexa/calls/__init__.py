"""The call: statuses, the outbound queue, and the interface to the engine that runs live calls."""
