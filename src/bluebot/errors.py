"""Errors whose messages name the fix. The CLI prints them as one line; the UI as a chat message."""


class BluebotError(Exception):
    """Base class for every error bluebot reports to a user."""


class ConfigError(BluebotError):
    """A setting has a value bluebot cannot use."""


class LoaderError(BluebotError):
    """A corpus file could not be read."""


class ModelError(BluebotError):
    """A model is missing, corrupt or failed to load."""


class IndexMissingError(BluebotError):
    """There is no usable index; run `bluebot ingest`."""


class IndexMismatchError(BluebotError):
    """The index was built with another embedding model or settings."""


class StoreError(BluebotError):
    """The vector store (embedded or server) failed."""


class GenerationError(BluebotError):
    """The language model failed to produce an answer."""


class BadQuestionError(BluebotError):
    """The question cannot be answered as given (empty, unreadable)."""


class BadTestSetError(BluebotError):
    """A test-set line is malformed; the message names the file and line."""


class BadResultsError(BluebotError):
    """A results-file line is malformed; the message names the file and line."""
