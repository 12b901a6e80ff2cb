"""All peer-programme content parsed and cross-checked together: the vocabulary first
(curricula name its assessment kinds), then the curricula (the programme names one and
quotes their module titles), then the programme rules.

The caller reads the files (``apps/core/content.read_content_yaml``) and passes each as
``(source, parsed YAML)``; ``source`` is the path errors start with. The first error found
is raised (a subclass of ``files.PeerContentError``) and nothing is returned, so the caller
keeps the content already in force.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from typing import Any

from stepwell.domain.peers.curriculum import Curriculum, parse_curricula
from stepwell.domain.peers.programme import ProgrammeRules, parse_programme
from stepwell.domain.peers.vocabulary import Vocabulary, parse_vocabulary

VOCABULARY_FILE = ("peers", "vocabulary.yaml")  # under content/
PROGRAMME_FILE = ("peers", "programme.yaml")
CURRICULA_DIR = ("curricula",)  # every *.yaml in it, in name order


@dataclass(frozen=True, slots=True)
class PeerContent:
    vocabulary: Vocabulary
    curricula: Mapping[str, Curriculum]  # by curriculum code
    programme: ProgrammeRules

    @property
    def peer_curriculum(self) -> Curriculum:
        """The curriculum whose certification lets a peer take matches."""
        return self.curricula[self.programme.certification_curriculum]


def parse_peer_content(
    *,
    vocabulary: tuple[str, Any],
    curricula: Iterable[tuple[str, Any]],
    programme: tuple[str, Any],
) -> PeerContent:
    vocab = parse_vocabulary(vocabulary[1], source=vocabulary[0])
    parsed = parse_curricula(curricula, vocabulary=vocab)
    rules = parse_programme(programme[1], source=programme[0], curricula=parsed)
    return PeerContent(vocab, parsed, rules)
