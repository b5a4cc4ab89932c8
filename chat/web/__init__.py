"""The web edge: Starlette routes and WebSocket endpoints that parse, call one service, render."""
