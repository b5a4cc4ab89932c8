"""Fault tests: real ``minimaria serve`` processes, killed, restarted, and a private Redis that dies."""
