"""Errors that services raise and the edges (API, pages, CLI) turn into clear messages."""

from __future__ import annotations

from collections.abc import Iterable

from stepwell.domain.records import FieldProblem


class InvalidInput(Exception):
    """One or more input fields are wrong. Nothing was stored."""

    def __init__(self, problems: Iterable[FieldProblem]) -> None:
        self.problems = list(problems)
        super().__init__("; ".join(f"{p.field}: {p.message}" for p in self.problems))


class NotFound(Exception):
    """The object does not exist, or the user may not know that it exists."""


class Forbidden(Exception):
    """The user's role may not do this at all (never used to hide a patient: see NotFound)."""
