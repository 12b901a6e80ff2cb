"""The barrier vocabulary (``content/coordination/barriers.yaml``)."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Any

from stepwell.apps.core.content import WatchedFile, content_path, read_content_yaml
from stepwell.domain.content_files import ContentFileError


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
