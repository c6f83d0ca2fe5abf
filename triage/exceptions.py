"""The exception tree: every error a user can cause is a :class:`TriageError`.

Messages say what was received, what was expected and how to fix it.
"""

__all__ = [
    "TriageError",
    "InputError",
    "ConfigError",
    "DictionaryError",
    "TaxonomyError",
    "ModelFormatError",
    "ModelIntegrityError",
    "TriageVersionWarning",
]


class TriageError(Exception):
    """Root of every error triage raises on purpose."""


class InputError(TriageError, ValueError):
    """Input data (a file, a column, a text, an argument) is not what triage can use."""


class ConfigError(TriageError, ValueError):
    """A configuration value is invalid."""


class DictionaryError(TriageError):
    """A user dictionary or stop-word file is missing or malformed."""


class TaxonomyError(TriageError, ValueError):
    """A taxonomy file is malformed, or labels fall outside the taxonomy."""


class ModelFormatError(TriageError):
    """A model directory is missing, incomplete, or of an unknown format version."""


class ModelIntegrityError(ModelFormatError):
    """A file in a model directory does not match the hash recorded in its manifest."""


class TriageVersionWarning(UserWarning):
    """A model was saved with different library versions than the ones installed."""
