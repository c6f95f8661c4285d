"""The Lambda runtime: Python handlers in warm worker processes, aliases with routing weights."""
