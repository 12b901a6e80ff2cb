"""Peer-patient matching: an exact min-cost-flow assignment of waiting patients to
available peer supporters, with reasons for every proposal and every patient left waiting.

The Django side calls ``parse_matching_config`` once on ``content/peers/matching.yaml``,
maps patients and peers to ``PatientNeed`` / ``PeerOffer`` and calls ``match``.
"""

from stepwell.domain.matching.config import (
    CALLER_EXCLUSIONS,
    MatchingConfig,
    MatchingConfigError,
    parse_matching_config,
)
from stepwell.domain.matching.costs import PairCost, pair_cost
from stepwell.domain.matching.encode import MatchingInputError
from stepwell.domain.matching.greedy import greedy_match
from stepwell.domain.matching.model import (
    ExcludedPeer,
    MatchResult,
    Pair,
    PatientNeed,
    PeerOffer,
    Reason,
    Timings,
    Unmatched,
    explain,
)
from stepwell.domain.matching.solve import SolverCostMismatchError, match

__all__ = [
    "CALLER_EXCLUSIONS",
    "ExcludedPeer",
    "MatchResult",
    "MatchingConfig",
    "MatchingConfigError",
    "MatchingInputError",
    "Pair",
    "PairCost",
    "PatientNeed",
    "PeerOffer",
    "Reason",
    "SolverCostMismatchError",
    "Timings",
    "Unmatched",
    "explain",
    "greedy_match",
    "match",
    "pair_cost",
    "parse_matching_config",
]
