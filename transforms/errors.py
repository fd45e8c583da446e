"""Turning exceptions into the machine-readable reasons a Reject carries."""

from __future__ import annotations

from pydantic import ValidationError

from newsbeam.schemas import ErrorDetail


def error_details(error: ValidationError) -> list[ErrorDetail]:
    """pydantic's error list as ErrorDetails (`loc` joined with dots)."""
    return [
        ErrorDetail(
            type=e["type"], loc=".".join(str(part) for part in e["loc"]) or "record", msg=e["msg"]
        )
        for e in error.errors(include_url=False)
    ]
