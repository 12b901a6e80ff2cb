"""The hard rules and the soft costs of a patient-peer pair, on arrays of pairs.

One definition serves the candidate search, the optimiser, the greedy baseline, the
explanations and the tests (``pair_cost`` evaluates a single pair through the same code), so
they can never disagree. All costs are whole points (see ``content/peers/matching.yaml``).
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np

from stepwell.domain.matching.config import MatchingConfig
from stepwell.domain.matching.encode import (
    Bools,
    Encoded,
    Floats,
    Ints,
    encode,
    great_circle_km,
    member,
)
from stepwell.domain.matching.model import PatientNeed, PeerOffer


def pair_km(e: Encoded, pi: Ints, pj: Ints) -> Floats:
    """Great-circle km between patients ``pi`` and peers ``pj`` (NaN when unknown)."""
    return great_circle_km(e.patients.unit, e.peers.unit, pi, pj)


def feasible(e: Encoded, pi: Ints, pj: Ints, km: Floats, config: MatchingConfig) -> Bools:
    """The hard rules, except refusals (checked against the refusal list separately):
    consent, an eligible peer with a free place, a shared language, the gender asked for,
    and a way to meet (in person within the maximum distance, or remote on both sides)."""
    pat, peer = e.patients, e.peers
    ok: Bools = e.consented[pi] & (e.capacity[pj] > 0)
    ok &= (pat.lang[pi] & peer.lang[pj]) != 0
    wanted = pat.gender[pi]
    ok &= (wanted < 0) | (wanted == peer.gender[pj])
    with np.errstate(invalid="ignore"):  # NaN km (unknown location) is simply not near
        in_person = km <= config.max_in_person_km
    ok &= in_person | (pat.remote[pi] & peer.remote[pj])
    return ok


def _popcount(masks: Ints) -> Ints:
    return np.bitwise_count(masks).astype(np.int64)


def _share_missing(weight: int, wanted: Ints, shared: Ints) -> Ints:
    """``weight`` * the share of ``wanted`` not met by ``shared`` (rounded down); 0 when
    nothing is wanted."""
    missing = wanted - np.minimum(shared, wanted)
    return np.where(wanted > 0, (weight * missing) // np.maximum(wanted, 1), 0)


def pair_costs(
    e: Encoded, pi: Ints, pj: Ints, km: Floats, config: MatchingConfig
) -> tuple[Ints, Bools]:
    """Per pair (assumed feasible): its cost in points, and whether it meets remotely.

    Terms (weights from the file): experience * share of the patient's tags unshared;
    availability * share of ``slots_wanted`` free slots not in common; modality if none in
    common; in person distance * km / max km (rounded), or remote's flat cost, whichever
    is cheaper among the ways the pair can meet; continuity if the patient had a peer
    before and this is not one of them.
    """
    w = config.weights
    pat, peer = e.patients, e.peers
    exp = _share_missing(
        w.experience, _popcount(pat.exp[pi]), _popcount(pat.exp[pi] & peer.exp[pj])
    )
    wanted_slots = np.minimum(_popcount(pat.slots[pi]), config.slots_wanted)
    avail = _share_missing(w.availability, wanted_slots, _popcount(pat.slots[pi] & peer.slots[pj]))
    no_mod = (pat.mods[pi] != 0) & ((pat.mods[pi] & peer.mods[pj]) == 0)
    with np.errstate(invalid="ignore"):
        in_person = km <= config.max_in_person_km
    near_km = np.where(in_person, km, 0.0)
    in_cost = np.rint(w.distance * near_km / config.max_in_person_km).astype(np.int64)
    remote_ok = pat.remote[pi] & peer.remote[pj]
    remote = ~in_person | (remote_ok & (w.remote < in_cost))
    dist = np.where(remote, w.remote, in_cost)
    codes = e.pair_codes(pi, pj)
    new_peer = e.had_peer[pi] & ~member(codes, e.previous, e.had_peer[pi])
    cost = exp + avail + w.modality * no_mod + dist + w.continuity * new_peer
    return cost.astype(np.int64), remote


def load_costs(e: Encoded, peer: Ints, taken: Ints, config: MatchingConfig) -> Ints:
    """The load-balance cost of each peer's ``taken``-th new patient (1-based): ceil(weight
    * load after / max_patients). It rises with ``taken``, so a peer's costs are convex."""
    load_after = e.active_load[peer] + taken
    maximum = e.max_patients[peer]
    return np.asarray((config.weights.load_balance * load_after + maximum - 1) // maximum)


@dataclass(frozen=True, slots=True)
class PairCost:
    cost: int
    remote: bool
    km: float | None


def pair_cost(
    patient: PatientNeed,
    peer: PeerOffer,
    config: MatchingConfig,
    *,
    peers: Sequence[PeerOffer] = (),
) -> PairCost | None:
    """One pair's cost, through the same code as the optimiser; None when a hard rule
    forbids the pair (refusals included). ``peers``: the run's peers, which matter only
    for continuity (whether one of the patient's previous peers takes part)."""
    others = [q for q in peers if q.id != peer.id]
    e = encode([patient], [peer, *others], config)
    pi = np.zeros(1, dtype=np.int64)
    pj = np.zeros(1, dtype=np.int64)
    km = pair_km(e, pi, pj)
    if not feasible(e, pi, pj, km, config)[0] or peer.id in patient.refused_peer_ids:
        return None
    cost, remote = pair_costs(e, pi, pj, km, config)
    return PairCost(int(cost[0]), bool(remote[0]), None if np.isnan(km[0]) else float(km[0]))
