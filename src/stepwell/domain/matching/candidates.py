"""The candidate search: which patient-peer pairs become arcs of the optimisation.

Scoring every patient against every peer is 350 million pairs for a region of 50,000
patients and 7,000 peers; instead each patient gets a few good, feasible options:

1. *Blocks.* Patients and eligible peers are grouped by language (a patient or peer in
   several languages is in several blocks) and, for patients who asked for a gender, by
   that gender; every pair in a block shares a language and satisfies the preference.
2. *Nearest.* Per block, a k-d tree over the located peers' unit vectors gives each located
   patient its ``nearest`` peers, and for each of its lived-experience tags (the heaviest
   cost term) the ``nearest_shared`` nearest peers sharing that tag; the feasible ones are
   priced and the ``per_patient`` cheapest kept (after dropping peers the patient refused).
3. *Remote.* A remote-ready patient may be best served by a peer far away with spare
   places. Per block, the ``remote_pool`` remote-ready peers under least pressure (nearest
   arcs pointing at them per free place) are priced against each remote-ready patient, and
   the ``remote`` cheapest not yet kept are added. Patients with no location get their
   options here only.
4. *Continuity.* A patient's feasible previous peers are always options.

When every count is at least the number of peers, nothing is pruned and ``exhaustive`` is
True: every feasible pair is an arc.
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass

import numpy as np
from scipy.spatial import cKDTree

from stepwell.domain.matching.config import Candidates, MatchingConfig
from stepwell.domain.matching.costs import feasible, pair_costs, pair_km
from stepwell.domain.matching.encode import Bools, Encoded, Floats, Ints, member, unique


@dataclass(frozen=True, slots=True)
class Arcs:
    """Patient-peer pairs (indexes into the encoded sides) with their cost, distance and
    whether they meet remotely; sorted by patient, then cost, then peer."""

    patient: Ints
    peer: Ints
    cost: Ints
    km: Floats
    remote: Bools

    def __len__(self) -> int:
        return len(self.patient)

    def take(self, index: Ints) -> Arcs:
        return Arcs(
            self.patient[index],
            self.peer[index],
            self.cost[index],
            self.km[index],
            self.remote[index],
        )


@dataclass(frozen=True, slots=True)
class Graph:
    arcs: Arcs
    reachable: Bools  # per patient: some feasible peer exists (refusals aside)
    exhaustive: bool  # no feasible pair was pruned


@dataclass(frozen=True, slots=True)
class _Block:
    patients: Ints  # consenting patients speaking the language (with that preference)
    peers: Ints  # eligible peers speaking it (of that gender)


def _blocks(e: Encoded) -> Iterator[_Block]:
    pat, peer = e.patients, e.peers
    open_patients = np.flatnonzero(e.consented)
    open_peers = np.flatnonzero(e.capacity > 0)
    spoken = np.bitwise_or.reduce(pat.lang[open_patients]) if len(open_patients) else 0
    offered = np.bitwise_or.reduce(peer.lang[open_peers]) if len(open_peers) else 0
    both = int(spoken) & int(offered)
    for bit in range(63):
        mask = 1 << bit
        if not both & mask:
            continue
        patients = open_patients[(pat.lang[open_patients] & mask) != 0]
        peers = open_peers[(peer.lang[open_peers] & mask) != 0]
        for wanted in np.flatnonzero(np.bincount(pat.gender[patients] + 1)) - 1:
            chosen = patients[pat.gender[patients] == wanted]
            offer = peers if wanted < 0 else peers[peer.gender[peers] == wanted]
            if len(offer):
                yield _Block(chosen, offer)


class _Keys:
    """(patient, cost, peer) packed in one int64 that sorts by patient, then cost, then
    peer: the search sorts and deduplicates millions of arcs with one ``np.sort``.
    ``parse_matching_config`` caps the weights so the packing cannot overflow."""

    def __init__(self, e: Encoded, config: MatchingConfig) -> None:
        w = config.weights
        self.peers = max(len(e.peers), 1)
        self.costs = (
            w.experience
            + w.availability
            + w.modality
            + max(w.distance, w.remote)
            + w.continuity
            + 1
        )
        self.stride = self.costs * self.peers

    def pack(self, patient: Ints, cost: Ints, peer: Ints) -> Ints:
        return (patient * self.costs + cost) * self.peers + peer

    def patient(self, keys: Ints) -> Ints:
        return keys // self.stride

    def peer(self, keys: Ints) -> Ints:
        return keys % self.peers

    def code(self, keys: Ints) -> Ints:
        """The pair code (patient * peers + peer), the same for any cost."""
        return self.patient(keys) * self.peers + self.peer(keys)


def _priced(
    e: Encoded, keys: _Keys, pi: Ints, pj: Ints, config: MatchingConfig
) -> tuple[Ints, Bools]:
    """The feasible pairs among (pi, pj), deduplicated and priced, as keys; and which of
    them the patient refused."""
    codes = unique(e.pair_codes(pi, pj))
    pi, pj = codes // keys.peers, codes % keys.peers
    km = pair_km(e, pi, pj)
    ok = feasible(e, pi, pj, km, config)
    pi, pj, km, codes = pi[ok], pj[ok], km[ok], codes[ok]
    cost, _ = pair_costs(e, pi, pj, km, config)
    return keys.pack(pi, cost, pj), member(codes, e.refused, e.refuses[pi])


def _cheapest(keys: _Keys, arcs: Ints, k: int) -> tuple[Ints, bool]:
    """Each patient's ``k`` cheapest arcs (ties by peer), sorted; and whether any patient
    had more."""
    arcs = np.sort(arcs)
    patients = keys.patient(arcs)
    new = np.empty(len(arcs), dtype=np.bool_)
    new[:1] = True
    np.not_equal(patients[1:], patients[:-1], out=new[1:])
    starts = np.flatnonzero(new)
    rank = np.arange(len(arcs)) - np.repeat(starts, np.diff(np.append(starts, len(arcs))))
    return arcs[rank < k], bool((rank >= k).any())


_NONE = np.zeros(0, dtype=np.int64)


def _query(tree_points: Floats, points: Floats, k: int) -> Ints:
    """Indexes (n, k) of each point's ``k`` nearest tree points (k ≤ len(tree_points))."""
    # Threads pay off only for big batches; small ones would spend longer starting them.
    workers = -1 if len(points) >= 2048 else 1
    _, idx = cKDTree(tree_points).query(points, k=k, workers=workers)
    return np.asarray(idx, dtype=np.int64).reshape(len(points), k)


def _nearest_pairs(e: Encoded, blocks: list[_Block], c: Candidates) -> tuple[Ints, Ints, bool]:
    """Each located patient's ``nearest`` located peers per block, and for each of its
    lived-experience tags the ``nearest_shared`` nearest peers sharing it (the heaviest
    cost term, so good options may lie beyond the plain nearest); and whether truncated.
    Patients who refused peers look that much further, so refusals never empty a list.
    Nearest by chord between unit vectors: the same order as great-circle distance."""
    refusals = np.bincount(e.refused // max(len(e.peers), 1), minlength=len(e.patients))
    extra = int(refusals.max(initial=0))
    pis, pjs = [], []
    truncated = False
    for block in blocks:
        patients = block.patients[e.patients.located[block.patients]]
        peers = block.peers[e.peers.located[block.peers]]
        if not len(patients) or not len(peers):
            continue
        k = min(c.nearest + extra, len(peers))
        truncated |= k < len(peers)
        idx = _query(e.peers.unit[peers], e.patients.unit[patients], k)
        pis.append(np.repeat(patients, k))
        pjs.append(peers[idx.ravel()])
        if not c.nearest_shared or k == len(peers):
            continue  # every peer of the block is already an option
        tags = int(np.bitwise_or.reduce(e.patients.exp[patients])) & int(
            np.bitwise_or.reduce(e.peers.exp[peers])
        )
        for bit in range(tags.bit_length()):
            if not tags >> bit & 1:
                continue
            sharing = peers[(e.peers.exp[peers] >> bit & 1) == 1]
            wanting = patients[(e.patients.exp[patients] >> bit & 1) == 1]
            k = min(c.nearest_shared + extra, len(sharing))
            idx = _query(e.peers.unit[sharing], e.patients.unit[wanting], k)
            pis.append(np.repeat(wanting, k))
            pjs.append(sharing[idx.ravel()])
    if not pis:
        return _NONE, _NONE, truncated
    return np.concatenate(pis), np.concatenate(pjs), truncated


def _remote_pairs(
    e: Encoded, blocks: list[_Block], taken: Ints, pool_size: int
) -> tuple[Ints, Ints, bool]:
    """Remote-ready patients paired with their blocks' least-pressed remote-ready peers
    (pressure: arcs already pointing at a peer, ``taken``, per free place)."""
    pressure = (taken + 1) / np.maximum(e.capacity, 1)
    pis, pjs = [], []
    truncated = False
    for block in blocks:
        patients = block.patients[e.patients.remote[block.patients]]
        peers = block.peers[e.peers.remote[block.peers]]
        if not len(patients) or not len(peers):
            continue
        if len(peers) > pool_size:
            truncated = True
            peers = peers[np.lexsort((peers, pressure[peers]))[:pool_size]]
        pis.append(np.repeat(patients, len(peers)))
        pjs.append(np.tile(peers, len(patients)))
    if not pis:
        return _NONE, _NONE, truncated
    return np.concatenate(pis), np.concatenate(pjs), truncated


def _remote_unsearched(e: Encoded) -> bool:
    """Without the remote step, could a remote pair be missed? (Unlocated ones are only
    found there.)"""
    pat = e.patients.remote & e.consented
    peer = e.peers.remote & (e.capacity > 0)
    return bool(
        ((pat & ~e.patients.located).any() and peer.any())
        or (pat.any() and (peer & ~e.peers.located).any())
    )


def candidate_graph(e: Encoded, config: MatchingConfig) -> Graph:
    """The arcs of the optimisation for encoded patients and peers (see the module)."""
    c = config.candidates
    keys = _Keys(e, config)
    blocks = list(_blocks(e))
    reachable = np.zeros(len(e.patients), dtype=np.bool_)

    pi, pj, truncated = _nearest_pairs(e, blocks, c)
    near, refused = _priced(e, keys, pi, pj, config)
    reachable[keys.patient(near)] = True
    kept, more = _cheapest(keys, near[~refused], c.per_patient)
    truncated |= more
    parts = [kept]

    if c.remote and c.remote_pool:
        taken = np.bincount(keys.peer(kept), minlength=len(e.peers))
        pi, pj, more = _remote_pairs(e, blocks, taken, c.remote_pool)
        truncated |= more
        far, refused = _priced(e, keys, pi, pj, config)
        reachable[keys.patient(far)] = True
        fresh = ~refused & ~member(keys.code(far), unique(keys.code(kept)))
        extra, more = _cheapest(keys, far[fresh], c.remote)
        truncated |= more
        parts.append(extra)
    else:
        truncated |= _remote_unsearched(e)

    n = max(len(e.peers), 1)
    previous, refused = _priced(e, keys, e.previous // n, e.previous % n, config)
    reachable[keys.patient(previous)] = True
    parts.append(previous[~refused])

    # A pair's cost depends only on the pair, so a pair found twice has the same key.
    final = unique(np.concatenate(parts))
    pi, pj = keys.patient(final), keys.peer(final)
    km = pair_km(e, pi, pj)
    cost, remote = pair_costs(e, pi, pj, km, config)
    return Graph(Arcs(pi, pj, cost, km, remote), reachable, not truncated)
