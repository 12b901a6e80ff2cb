"""Loading clinical and reporting content files from ``content/``."""

from __future__ import annotations

import logging
from collections.abc import Callable, Iterable
from functools import cache
from pathlib import Path
from typing import Any, Generic, TypeVar

import yaml
from django.conf import settings

from stepwell.domain.content_files import ContentFileError
from stepwell.domain.metrics.suppression import SuppressionRule, rule_from_dict
from stepwell.domain.safety.crisis import CrisisLexicon, parse_lexicon
from stepwell.domain.safety.screen import RiskScreen, parse_risk_screen

log = logging.getLogger(__name__)
T = TypeVar("T")


def content_path(*parts: str) -> Path:
    return Path(settings.CONTENT_DIR).joinpath(*parts)


def load_yaml(path: Path) -> dict[str, Any]:
    with path.open(encoding="utf-8") as fh:
        data = yaml.safe_load(fh)
    if not isinstance(data, dict):
        raise ValueError(f"{path}: expected a mapping at the top level")
    return data


@cache
def suppression_rule() -> SuppressionRule:
    path = content_path("reporting", "suppression.yaml")
    return rule_from_dict(load_yaml(path), source=str(path))


@cache
def crisis_lexicon() -> CrisisLexicon:
    """The crisis-language lexicon (``content/safety/crisis_language.yaml``), read once per
    process; a malformed file fails loudly (CrisisLexiconError naming the field)."""
    path = content_path("safety", "crisis_language.yaml")
    return parse_lexicon(load_yaml(path), source=str(path))


@cache
def risk_screen() -> RiskScreen:
    """The structured risk screen recorded on escalation tasks (read once per process)."""
    path = content_path("safety", "risk_screen.yaml")
    return parse_risk_screen(load_yaml(path), source=str(path))


def read_content_yaml(path: Path, error: type[ContentFileError]) -> Any:
    """The parsed YAML of a content file; ``error`` (naming the file) when it cannot be read
    or is not YAML."""
    try:
        return yaml.safe_load(path.read_text(encoding="utf-8"))
    except OSError as exc:
        raise error(f"{path}: cannot be read: {exc.strerror}") from None
    except yaml.YAMLError as exc:
        raise error(f"{path}: not valid YAML: {exc}") from None


def _stamp(path: Path) -> tuple[str, float]:
    try:
        return str(path), path.stat().st_mtime
    except OSError:
        return str(path), -1.0


class WatchedFile(Generic[T]):
    """A content file named by a setting, re-read when it changes (path or mtime).

    A changed file that fails validation does not replace the one in force: the last good
    one stays, and ``error()`` says what is wrong (file and field) for pages and the CLI.
    Only a process that has never loaded a good file fails (the file's error class).
    """

    def __init__(
        self,
        path: Callable[[], Path],
        load: Callable[[Path], T],
        error: type[ContentFileError],
        what: str,
        *,
        also: Callable[[], Iterable[Path]] = tuple,
    ) -> None:
        """``also``: further files ``load`` reads (a set of files parsed together); a change
        to any of them, or a file added or removed, reloads the set."""
        self._path, self._load, self._error, self._what = path, load, error, what
        self._also = also
        self._key: tuple[tuple[str, float], ...] | None = None
        self._value: T | None = None
        self._message = ""

    def get(self) -> T:
        path = self._path()
        key = tuple(_stamp(p) for p in (path, *self._also()))
        if key != self._key:
            self._key = key
            try:
                self._value = self._load(path)
                self._message = ""
            except self._error as exc:
                self._message = str(exc)
                log.error("%s rejected, the previous one stays in force: %s", self._what, exc)
        if self._value is None:
            raise self._error(self._message)
        return self._value

    def error(self) -> str:
        """Why the current file was rejected ("" when it is the one in force)."""
        self.get()
        return self._message
