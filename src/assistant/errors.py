"""Errors a user can hit. Every message says what happened and what to run next."""


class AssistantError(Exception):
    """Base class: the message is shown to the user as is, without a traceback."""


class CorpusError(AssistantError):
    """A corpus file could not be read (it is skipped; the rest is indexed)."""


class IndexMissingError(AssistantError):
    pass


class IndexCorruptError(AssistantError):
    pass


class IndexMismatchError(AssistantError):
    """The index was built with another embedding model or vector size."""


class RebuildLockedError(AssistantError):
    pass


class FetchError(AssistantError):
    pass


class QuestionError(AssistantError):
    """An empty or over-long question."""


class LLMUnavailableError(AssistantError):
    pass


class StoreUnavailableError(AssistantError):
    """The Chroma server of a server-mode index cannot be reached."""
