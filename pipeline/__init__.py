"""newsbeam's pipeline, one sub-package per concern: `compose` (options, build_pipeline), `run`
(the `newsbeam` command and its runners), `inspect` (reading an output folder), `bench`
(measuring); `beam_internals` holds every use of a private Beam name."""

import logging


class _OptionalCloudClients(logging.Filter):
    """Beam warns at import that the GCP client libraries are absent; they are optional here."""

    def filter(self, record: logging.LogRecord) -> bool:
        return "apitools not found" not in record.getMessage()


logging.getLogger().addFilter(_OptionalCloudClients())
