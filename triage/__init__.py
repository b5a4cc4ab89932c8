"""Triage: the pure domain of routing. Imports only the standard library; callers pass time and region."""

from triage.config import ConfigError, load_region, parse_region
from triage.region import Priority, Region
from triage.router import Decision, Intake, decide

__all__ = ["ConfigError", "Decision", "Intake", "Priority", "Region", "decide", "load_region", "parse_region"]
