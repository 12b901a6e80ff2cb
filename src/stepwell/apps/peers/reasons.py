"""Stored peer-programme reasons (``{"code", "params"}``) in words, for pages and the API."""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any

from stepwell.apps.peers.content import peer_content
from stepwell.apps.peers.matching import matching_config
from stepwell.domain.matching import Reason as MatchReason
from stepwell.domain.peers.reasons import REASON_PARAMS
from stepwell.domain.peers.reasons import Reason as PeerReason


def reasons_in_words(items: Iterable[Any], language: str) -> list[dict[str, Any]]:
    """Each reason (a stored dict or a reason object) as ``{"code", "params", "text"}``: the
    peer programme's own codes (eligibility, lifecycle) with ``programme.yaml``'s sentences,
    the optimiser's with ``matching.yaml``'s. A code retired from the content since the
    reason was stored reads as its code."""
    sentences = peer_content().programme.sentences
    config = matching_config()
    out = []
    for item in items:
        code = str(item.get("code", "")) if isinstance(item, dict) else str(item.code)
        params = dict(item.get("params", {}) if isinstance(item, dict) else item.params)
        try:
            if code in REASON_PARAMS:
                text = PeerReason(code, params).text(sentences, language)
            else:
                text = MatchReason(code, params).text(config, language)
        except KeyError:
            text = code
        out.append({"code": code, "params": params, "text": text})
    return out
