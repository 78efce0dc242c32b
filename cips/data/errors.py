"""The one error type of the data pipeline."""


class DataError(RuntimeError):
    """A missing or unusable source, or an unreadable LMDB; the message is one line naming the path."""
