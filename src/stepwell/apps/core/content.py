"""Loading clinical and reporting content files from ``content/``."""

from __future__ import annotations

from functools import cache
from pathlib import Path
from typing import Any

import yaml
from django.conf import settings

from stepwell.domain.metrics.suppression import SuppressionRule, rule_from_dict
from stepwell.domain.safety.crisis import CrisisLexicon, parse_lexicon
from stepwell.domain.safety.screen import RiskScreen, parse_risk_screen


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
