"""Triage: the pure domain of routing. Imports only the standard library; callers pass time and region."""

from triage.config import ConfigError, Region, load_region, parse_region
from triage.router import Decision, Intake, Priority, decide

__all__ = ["ConfigError", "Decision", "Intake", "Priority", "Region", "decide", "load_region", "parse_region"]
