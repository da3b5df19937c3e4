"""The project's error types. Each domain raises its own subclass, naming the file, line and value."""

from __future__ import annotations

from pathlib import Path


class XrepError(Exception):
    """Base of every error xrep raises on purpose."""


class SettingError(XrepError, ValueError):
    """A setting (profile, preset, parameter) has a value the platform cannot use: names it and the choices."""


class InputFileError(XrepError):
    """A file the platform reads is malformed: says which file, which line, and what is wrong."""

    def __init__(self, path: str | Path, line: int | None, message: str):
        self.path = str(path)
        self.line = line
        self.message = message
        where = f"{self.path}:{line}" if line is not None else self.path
        super().__init__(f"{where}: {message}")


class CorpusFormatError(InputFileError):
    """A corpus file (Moses zip, TMX) is malformed."""


class TaskDataError(InputFileError):
    """A task file (XGLUE's files, a hub dataset's split) is malformed."""


class EmptyOutputError(XrepError):
    """An asset's output would be empty although its input should not be (a Moses zip with empty
    members, a language left without text, a score file without rows). Raised before anything is
    committed, so the previous materialization stays where readers find it."""

    def __init__(self, output: str, source: str | Path, empty: str):
        self.output = output
        self.source = str(source)
        super().__init__(f"{output}: {empty} (read from {self.source}); nothing was written, the previous {output} stays")
