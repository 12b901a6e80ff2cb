"""Reasons as codes + parameters, and the sentences that say them (``texts:`` of
``content/peers/programme.yaml``), in the shape of ``domain.stepping.engine.Reason``.

A reason is stored and sent as ``{"code": …, "params": {…}}``: parameters are numbers, ISO
dates and codes, never words, so a stored reason can be said again in any language later.
Parameters that hold codes (lifecycle states, module codes) are shown as their labels.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field

from stepwell.domain.content_files import Text

# Why a peer may not take a new match (``eligibility.match_eligibility``).
ELIGIBILITY_PARAMS: dict[str, frozenset[str]] = {
    code: frozenset(params)
    for code, params in {
        "not-active": {"state"},
        "certification-missing": {"modules"},
        "certification-expired": {"module", "date"},
        "supervision-overdue": {"last", "days", "limit"},
        "supervision-never": {"limit"},
        "at-capacity": {"active", "proposed", "max"},
    }.items()
}
# Why a lifecycle change is refused (``lifecycle.lifecycle_transition``).
LIFECYCLE_PARAMS: dict[str, frozenset[str]] = {
    code: frozenset(params)
    for code, params in {
        "lifecycle-unknown-state": {"state"},
        "lifecycle-same-state": {"current"},
        "lifecycle-final": {"current", "target"},
        "lifecycle-not-allowed": {"current", "target", "allowed"},
        "lifecycle-needs-certification": {"target", "modules"},
    }.items()
}
# Every code the programme file must have a sentence for, with the placeholders allowed.
REASON_PARAMS: dict[str, frozenset[str]] = {**ELIGIBILITY_PARAMS, **LIFECYCLE_PARAMS}

# Parameters holding codes, and which labels say them: lifecycle states or module titles.
LABELLED_PARAMS = {
    "state": "states",
    "current": "states",
    "target": "states",
    "allowed": "states",
    "module": "modules",
    "modules": "modules",
}
LIST_SEPARATOR = ", "


@dataclass(frozen=True, slots=True)
class Sentences:
    """The sentence for every reason code, and the labels of the codes they mention.

    ``labels["states"]``: lifecycle state -> label; ``labels["modules"]``: module code ->
    title, across every curriculum loaded with the programme file.
    """

    texts: Mapping[str, Text]
    labels: Mapping[str, Mapping[str, Text]]

    def label(self, kind: str, code: str, language: str) -> str:
        """A code's label in ``language`` (English if missing; the code itself if unknown,
        e.g. a module retired from its curriculum since the reason was stored)."""
        text = self.labels.get(kind, {}).get(code)
        if text is None:
            return code
        return text.get(language) or text["en"]

    def render(self, code: str, language: str, params: Mapping[str, object]) -> str:
        """The sentence for ``code`` in ``language`` (English if missing), filled in."""
        filled: dict[str, object] = {}
        for name, value in params.items():
            kind = LABELLED_PARAMS.get(name)
            if kind is None:
                filled[name] = value
            elif isinstance(value, (list, tuple)):
                filled[name] = LIST_SEPARATOR.join(
                    self.label(kind, str(v), language) for v in value
                )
            else:
                filled[name] = self.label(kind, str(value), language)
        template = self.texts[code]
        return (template.get(language) or template["en"]).format(**filled)


@dataclass(frozen=True, slots=True)
class Reason:
    """One reason: a code of REASON_PARAMS and its parameters (numbers, ISO dates, codes or
    tuples of codes)."""

    code: str
    params: Mapping[str, object] = field(default_factory=dict)

    def text(self, sentences: Sentences, language: str) -> str:
        return sentences.render(self.code, language, self.params)

    def as_dict(self) -> dict[str, object]:
        """JSON-ready: tuples become lists."""
        return {
            "code": self.code,
            "params": {k: list(v) if isinstance(v, tuple) else v for k, v in self.params.items()},
        }
