"""The peer programme's content files, parsed together and re-read when any of them changes
(the last good set stays in force when a changed file is rejected)."""

from __future__ import annotations

from pathlib import Path

from stepwell.apps.core.content import WatchedFile, content_path, read_content_yaml
from stepwell.domain.peers.content import (
    CURRICULA_DIR,
    PROGRAMME_FILE,
    VOCABULARY_FILE,
    PeerContent,
    parse_peer_content,
)
from stepwell.domain.peers.files import PeerContentError


def _curricula() -> list[Path]:
    return sorted(content_path(*CURRICULA_DIR).glob("*.yaml"))


def _load(vocabulary: Path) -> PeerContent:
    programme = content_path(*PROGRAMME_FILE)
    return parse_peer_content(
        vocabulary=(str(vocabulary), read_content_yaml(vocabulary, PeerContentError)),
        curricula=[(str(p), read_content_yaml(p, PeerContentError)) for p in _curricula()],
        programme=(str(programme), read_content_yaml(programme, PeerContentError)),
    )


_content = WatchedFile(
    lambda: content_path(*VOCABULARY_FILE),
    _load,
    PeerContentError,
    "peer-programme content",
    also=lambda: [content_path(*PROGRAMME_FILE), *_curricula()],
)


def peer_content() -> PeerContent:
    """Vocabulary, curricula and programme rules in force."""
    return _content.get()
