"""Report stage: the versioned JSON report and the human summary. No raw PHI."""
from .json_report import REPORT_SCHEMA_VERSION, build_report
from .summary import human_summary

__all__ = ["REPORT_SCHEMA_VERSION", "build_report", "human_summary"]
