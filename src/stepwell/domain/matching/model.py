"""What the matching optimiser takes and returns: plain frozen dataclasses.

Inputs describe one waiting patient (``PatientNeed``) and one peer supporter's offer
(``PeerOffer``) with codes from the vocabularies of ``content/peers/matching.yaml``. Outputs
carry reasons as codes + parameters (``Reason``); the sentences live in the same file and
``Reason.text`` / ``explain`` fill them in the reader's language.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Protocol

if TYPE_CHECKING:
    from stepwell.domain.matching.config import MatchingConfig

Location = tuple[float, float]  # (latitude, longitude) in decimal degrees, WGS 84


@dataclass(frozen=True, slots=True)
class Reason:
    """Why something happened, as a sentence code and its parameters. Parameters named in
    ``config.LABELLED_PARAMS`` hold vocabulary codes (a tuple, or one code for ``gender``)."""

    code: str
    params: Mapping[str, object] = field(default_factory=dict)

    def text(self, config: MatchingConfig, language: str) -> str:
        return config.text(self.code, language, self.params)

    def as_dict(self) -> dict[str, object]:
        return {
            "code": self.code,
            "params": {k: list(v) if isinstance(v, tuple) else v for k, v in self.params.items()},
        }


class ReasonLike(Protocol):
    """Anything with a reason's shape, such as ``domain.peers.reasons.Reason``."""

    @property
    def code(self) -> str: ...

    @property
    def params(self) -> Mapping[str, object]: ...


def explain(reasons: Iterable[Reason], config: MatchingConfig, language: str) -> str:
    """The reasons as one line in ``language``: "both speak Spanish; 12 km apart"."""
    return "; ".join(r.text(config, language) for r in reasons)


@dataclass(frozen=True, slots=True)
class PatientNeed:
    """A patient waiting for a peer supporter.

    ``languages`` (at least one), ``lived_experience``, ``availability`` (slot codes such as
    ``tue-evening``) and ``modalities`` are vocabulary codes. ``gender_preference`` is the
    peer gender the patient asked for, or None. ``location`` is home, or None when unknown
    (then only remote support is possible). ``previous_peer_ids`` earn continuity;
    ``refused_peer_ids`` (the patient asked for someone else) are never proposed again.
    Without ``consented`` (to peer support) the patient is listed unmatched, never matched.
    """

    id: int
    languages: frozenset[str]
    consented: bool = True
    gender_preference: str | None = None
    lived_experience: frozenset[str] = frozenset()
    location: Location | None = None
    remote_ok: bool = False
    availability: frozenset[str] = frozenset()
    modalities: frozenset[str] = frozenset()
    previous_peer_ids: frozenset[int] = frozenset()
    refused_peer_ids: frozenset[int] = frozenset()


@dataclass(frozen=True, slots=True)
class PeerOffer:
    """A peer supporter and what they can take on in this run.

    ``capacity_left``: new patients the peer may take now (the caller subtracts active and
    pending matches from the peer's maximum); ``active_load`` and ``max_patients`` price the
    load balance. ``ineligible``: why the peer may not take a new match, as the peer
    programme says (``domain.peers.eligibility.match_eligibility``: not active,
    certification, supervision, capacity; codes of ``config.CALLER_EXCLUSIONS``), empty when
    eligible. ``gender`` is a code of the genders vocabulary, or None when not recorded.
    """

    id: int
    languages: frozenset[str]
    capacity_left: int
    gender: str | None = None
    lived_experience: frozenset[str] = frozenset()
    location: Location | None = None
    remote_ok: bool = False
    availability: frozenset[str] = frozenset()
    modalities: frozenset[str] = frozenset()
    active_load: int = 0
    max_patients: int = 1
    ineligible: tuple[ReasonLike, ...] = ()


@dataclass(frozen=True, slots=True)
class Pair:
    """A proposed match. ``cost``: the pair's points (without the peer's load balance)."""

    patient_id: int
    peer_id: int
    cost: int
    remote: bool  # meets remotely (cheaper than, or instead of, in person)
    km: float | None  # great-circle distance, None when either location is unknown
    reasons: tuple[Reason, ...]


@dataclass(frozen=True, slots=True)
class Unmatched:
    patient_id: int
    reasons: tuple[Reason, ...]


@dataclass(frozen=True, slots=True)
class ExcludedPeer:
    peer_id: int
    reasons: tuple[Reason, ...]


@dataclass(frozen=True, slots=True)
class Timings:
    """Wall-clock seconds per phase, for reporting only (never used in a decision)."""

    encode: float
    candidates: float
    solve: float
    explain: float

    @property
    def total(self) -> float:
        return self.encode + self.candidates + self.solve + self.explain


@dataclass(frozen=True, slots=True)
class MatchResult:
    """One matching run.

    ``total_cost`` = ``pair_cost`` + ``load_cost`` + ``unmatched_penalty`` * the number of
    consenting patients left unmatched: the objective minimised. ``status`` is the solver's
    status name (``OPTIMAL``), or ``GREEDY`` for the baseline. ``candidates``: patient-peer
    arcs considered; ``exhaustive``: no feasible pair was pruned, so the optimum is over all
    pairs. ``unmatched`` lists every patient not in ``pairs``, consenting or not.
    """

    status: str
    total_cost: int
    pair_cost: int
    load_cost: int
    unmatched_penalty: int
    pairs: tuple[Pair, ...]
    unmatched: tuple[Unmatched, ...]
    excluded_peers: tuple[ExcludedPeer, ...]
    candidates: int
    exhaustive: bool
    config_version: str
    timings: Timings

    @property
    def matched(self) -> int:
        return len(self.pairs)
