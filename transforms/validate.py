"""Validate: article fields → Article (pydantic), or a Reject carrying pydantic's error list."""

from __future__ import annotations

from typing import Any

import apache_beam as beam
from apache_beam.metrics import Metrics
from pydantic import ValidationError

from newsbeam.schemas import Article, Reject
from newsbeam.transforms.errors import error_details
from newsbeam.transforms.routing import SplitOff
from newsbeam.transforms.timing import stage_timer, timed


def validate_article(fields: dict[str, Any], min_words: int = 1) -> Article | Reject:
    """An Article if the fields satisfy the schema, else a Reject at stage "validate"."""
    try:
        return Article.model_validate(fields, context={"min_words": min_words})
    except ValidationError as error:
        details = error_details(error)
        first = details[0]
        uri = str(fields.get("source_uri") or "unknown")
        return Reject(
            source_uri=uri,
            stage="validate",
            reason=f"{first.loc}:{first.type}",
            message=f"{uri}: " + "; ".join(f"{d.loc}: {d.msg}" for d in details),
            errors=details,
            excerpt=str(fields.get("body") or "")[:300],
        )


class ValidateArticleFn(beam.DoFn):
    """Article fields → an Article or a Reject.

    Example input: {"article_id": "1f…", "source_uri": "seeds/000_….txt", "body": "…", …}.
    """

    def __init__(self, min_words: int) -> None:
        self._min_words = min_words
        self._valid = Metrics.counter("validate", "valid")
        self._invalid = Metrics.counter("validate", "rejected")
        self._words = Metrics.distribution("validate", "word_count")
        self._time = stage_timer("validate")

    def process(self, fields: dict[str, Any]):
        with timed(self._time):
            result = validate_article(fields, self._min_words)
        if isinstance(result, Reject):
            self._invalid.inc()
            Metrics.counter("validate", f"rejected_{result.reason}").inc()
            yield result
        else:
            self._valid.inc()
            self._words.update(result.word_count)
            yield result


class ValidateArticles(beam.PTransform):
    """Article field dicts → (Articles, Rejects)."""

    def __init__(self, min_words: int = 1) -> None:
        super().__init__()
        self._min_words = min_words

    def expand(self, drafts):
        return (
            drafts
            | "CheckSchema" >> beam.ParDo(ValidateArticleFn(self._min_words))
            | "SplitRejects" >> SplitOff(Reject)
        )
