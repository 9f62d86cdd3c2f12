"""The runs' console logger: one short line a message, `[HH:MM:SS] step: message`.

`cc-assets refresh` runs the code location's jobs with their output on the user's terminal,
where Dagster's default console line (`date - dagster - LEVEL - job - run id - pid - step -
event - message`) buries the message; the run log in the UI keeps every field either way.
"""

import logging
import sys
from datetime import UTC, datetime

import dagster as dg


class TerminalFormatter(logging.Formatter):
    def format(self, record: logging.LogRecord) -> str:
        meta = getattr(record, "dagster_meta", None) or {}
        message = meta.get("orig_message") or record.getMessage()
        step = meta.get("step_key")
        stamp = datetime.fromtimestamp(record.created, UTC)
        return f"[{stamp:%H:%M:%S}] {f'{step}: ' if step else ''}{message}"


@dg.logger(
    {"log_level": dg.Field(str, is_required=False, default_value="INFO")},
    description="One short line a message on stderr.",
)
def terminal_logger(init_context: dg.InitLoggerContext) -> logging.Logger:
    logger = logging.getLogger("cc_assets.runs")
    logger.setLevel(init_context.logger_config["log_level"].upper())
    logger.propagate = False
    if not logger.handlers:
        handler = logging.StreamHandler(sys.stderr)
        handler.setFormatter(TerminalFormatter())
        logger.addHandler(handler)
    return logger


defs = dg.Definitions(loggers={"console": terminal_logger})
