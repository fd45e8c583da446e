"""newsbeam's pipeline: options, build_pipeline() and the `newsbeam` command."""

import logging


class _OptionalCloudClients(logging.Filter):
    """Beam warns at import that the GCP client libraries are absent; they are optional here."""

    def filter(self, record: logging.LogRecord) -> bool:
        return "apitools not found" not in record.getMessage()


logging.getLogger().addFilter(_OptionalCloudClients())
