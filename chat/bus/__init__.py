"""Pub/sub fan-out between app instances: in-memory (one process) or Redis."""
