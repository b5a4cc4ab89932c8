"""Use cases: start, post, replay, claim, close, login. Plain values in, dataclasses out; no Starlette."""
