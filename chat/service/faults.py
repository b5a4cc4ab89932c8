"""Which failures are the database or the bus being away for a moment, not a bug.

The web layer answers them with ``unavailable`` (HTTP 503, or an ``error`` frame) so the client tries again;
anything else is ``internal``. Named here so that the web layer need not know the database driver.
"""

from __future__ import annotations

from sqlalchemy.exc import InterfaceError, OperationalError, SQLAlchemyError

# An HTTP request: the database refused or dropped the connection, or the bus did not answer.
UNAVAILABLE: tuple[type[Exception], ...] = (OperationalError, InterfaceError, ConnectionError, TimeoutError)
# A socket frame: any database error (a frame is retried by the client as it is), or the network.
TRANSIENT: tuple[type[Exception], ...] = (SQLAlchemyError, OSError, TimeoutError, ConnectionError)
