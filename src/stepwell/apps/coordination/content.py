"""The coordination content files: the barrier vocabulary (``barriers.yaml``), the access
rules (``access.yaml``) and the message templates (``messages.yaml``) of
``content/coordination/``. Each is re-read when it changes; a changed file that is rejected
leaves the last good one in force."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Any

from stepwell.apps.core.content import WatchedFile, content_path, read_content_yaml
from stepwell.domain.content_files import ContentFileError
from stepwell.domain.coordination.reminders import MessageTemplates, parse_templates
from stepwell.domain.coordination.rules import (
    CoordinationFileError,
    CoordinationRules,
    parse_rules,
)


class BarrierFileError(ContentFileError):
    """The barrier vocabulary file is malformed; the message names the file and field."""


@dataclass(frozen=True, slots=True)
class BarrierVocabulary:
    kinds: dict[str, dict[str, str]]  # code -> {language: label}
    actions: dict[str, dict[str, str]]

    def label(self, kind: str, code: str, language: str) -> str:
        table = self.kinds if kind == "kinds" else self.actions
        names = table.get(code, {})
        return names.get(language) or names.get("en") or code


def _terms(data: Any, key: str, source: Path) -> dict[str, dict[str, str]]:
    entries = data.get(key) if isinstance(data, dict) else None
    if not isinstance(entries, list) or not entries:
        raise BarrierFileError(f"{source}: {key}: must be a non-empty list")
    out: dict[str, dict[str, str]] = {}
    for n, entry in enumerate(entries):
        code = entry.get("code") if isinstance(entry, dict) else None
        label = entry.get("label") if isinstance(entry, dict) else None
        if not isinstance(code, str) or not code:
            raise BarrierFileError(f"{source}: {key}[{n}].code: must be a code")
        if code in out:
            raise BarrierFileError(f"{source}: {key}[{n}].code: {code!r} appears twice")
        if not isinstance(label, dict) or not all(
            isinstance(label.get(lang), str) and label[lang] for lang in ("en", "es")
        ):
            raise BarrierFileError(f"{source}: {key}[{n}].label: needs en and es text")
        out[code] = dict(label)
    return out


def _load(path: Path) -> BarrierVocabulary:
    data = read_content_yaml(path, BarrierFileError)
    return BarrierVocabulary(_terms(data, "kinds", path), _terms(data, "actions", path))


_vocabulary = WatchedFile(
    lambda: content_path("coordination", "barriers.yaml"),
    _load,
    BarrierFileError,
    "barrier vocabulary",
)


def barrier_vocabulary() -> BarrierVocabulary:
    return _vocabulary.get()


# --- access rules and message templates (domain/coordination) ---------------------------


def _load_rules(path: Path) -> CoordinationRules:
    return parse_rules(read_content_yaml(path, CoordinationFileError), source=str(path))


def _load_templates(path: Path) -> MessageTemplates:
    return parse_templates(read_content_yaml(path, CoordinationFileError), source=str(path))


_rules = WatchedFile(
    lambda: content_path("coordination", "access.yaml"),
    _load_rules,
    CoordinationFileError,
    "coordination access rules",
)
_templates = WatchedFile(
    lambda: content_path("coordination", "messages.yaml"),
    _load_templates,
    CoordinationFileError,
    "coordination message templates",
)


def coordination_rules() -> CoordinationRules:
    """The access rules in force (``content/coordination/access.yaml``): time zones and
    quiet hours, travel, reminders, referral deadlines, SMS keywords, appointment codes."""
    return _rules.get()


def message_templates() -> MessageTemplates:
    """The SMS and e-mail templates in force (``content/coordination/messages.yaml``)."""
    return _templates.get()
