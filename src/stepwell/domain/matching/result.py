"""From chosen arcs to a ``MatchResult``: the objective's parts, pairs with their reasons,
unmatched patients with theirs, excluded peers. Shared by the optimiser and the greedy
baseline, so both are priced by exactly the same rules."""

from __future__ import annotations

import time
from dataclasses import dataclass

import numpy as np

from stepwell.domain.matching.candidates import Graph
from stepwell.domain.matching.config import MatchingConfig
from stepwell.domain.matching.costs import load_costs
from stepwell.domain.matching.encode import Encoded, Ints
from stepwell.domain.matching.explain import pair_reasons, unmatched_reasons
from stepwell.domain.matching.model import (
    ExcludedPeer,
    MatchResult,
    Pair,
    Reason,
    Timings,
    Unmatched,
)


def peer_units(e: Encoded, graph: Graph, config: MatchingConfig) -> tuple[Ints, Ints]:
    """Per peer index: how many new patients it could take in this graph (its free places,
    at most its arcs), and the load cost of the last of them (its dearest; 0 if none)."""
    arcs_in = np.bincount(graph.arcs.peer, minlength=len(e.peers))
    units = np.minimum(e.capacity, arcs_in)
    last = load_costs(e, np.arange(len(e.peers)), np.maximum(units, 1), config)
    return units, np.where(units > 0, last, 0)


def unmatched_penalty(e: Encoded, graph: Graph, config: MatchingConfig) -> int:
    """The cost of leaving a consenting patient unmatched: the file's whole number, or with
    ``most-matches`` one more than the cost any augmenting path could add.

    Why that suffices: matching one more patient shifts pairs along an alternating path
    that passes each patient and peer at most once, so it adds at most ``m`` new pairs
    (m = min(patients, peers) with arcs), each costing at most the dearest arc, and one
    more place at its last peer (at most the dearest load cost); the pairs it replaces
    cost ≥ 0. With a larger penalty every solution that leaves one more patient waiting
    costs more, so minimising ``total_cost`` matches as many patients as the candidate
    graph allows and then minimises cost: the optimum of a minimum-cost maximum flow.
    """
    if config.unmatched_penalty is not None:
        return config.unmatched_penalty
    arcs = graph.arcs
    if not len(arcs):
        return 1
    _, last = peer_units(e, graph, config)
    m = min(
        int(np.count_nonzero(np.bincount(arcs.patient))),
        int(np.count_nonzero(np.bincount(arcs.peer))),
    )
    return m * int(arcs.cost.max()) + int(last.max()) + 1


def load_cost_total(e: Encoded, taken: Ints, config: MatchingConfig) -> int:
    """The load-balance cost of peers taking ``taken[j]`` new patients each."""
    peers = np.repeat(np.arange(len(e.peers)), taken)
    nth = np.arange(len(peers)) - np.repeat(np.cumsum(taken) - taken, taken) + 1
    return int(load_costs(e, peers, nth, config).sum())


@dataclass(frozen=True, slots=True)
class Outcome:
    """What a method (solver or greedy) decided: the arcs it chose, by index."""

    status: str
    chosen: Ints
    failed: bool = False  # the solver gave no solution: nothing is matched


def _costlier_than_waiting(e: Encoded, graph: Graph, config: MatchingConfig, penalty: int) -> Ints:
    """Per patient: every option (with its peer's first new place) costs more than the
    penalty, so leaving them waiting is cheaper (only with a whole-number penalty)."""
    arcs = graph.arcs
    best = np.full(len(e.patients), np.iinfo(np.int64).max)
    if config.unmatched_penalty is not None and len(arcs):
        first = load_costs(e, arcs.peer, np.ones(len(arcs), dtype=np.int64), config)
        np.minimum.at(best, arcs.patient, arcs.cost + first)
    return np.asarray((best > penalty) & (best < np.iinfo(np.int64).max))


def assemble(
    e: Encoded,
    config: MatchingConfig,
    graph: Graph,
    outcome: Outcome,
    penalty: int,
    timings: tuple[float, float, float],
) -> MatchResult:
    """The run's result. ``timings``: encode, candidate and solve seconds so far."""
    started = time.perf_counter()
    arcs = graph.arcs.take(outcome.chosen)
    taken = np.bincount(arcs.peer, minlength=len(e.peers))
    pair_cost = int(arcs.cost.sum())
    load_cost = load_cost_total(e, taken, config)
    reasons = pair_reasons(e, config, arcs, e.active_load + taken)
    pairs = tuple(
        Pair(patient, peer, cost, remote, None if km != km else round(km, 1), why)
        for patient, peer, cost, remote, km, why in zip(
            e.patients.ids[arcs.patient].tolist(),
            e.peers.ids[arcs.peer].tolist(),
            arcs.cost.tolist(),
            arcs.remote.tolist(),
            arcs.km.tolist(),
            reasons,
            strict=True,
        )
    )
    matched = np.zeros(len(e.patients), dtype=np.bool_)
    matched[arcs.patient] = True
    left = np.flatnonzero(~matched)
    why_not = unmatched_reasons(e, config, graph, left, outcome.status if outcome.failed else None)
    dearer = _costlier_than_waiting(e, graph, config, penalty)
    costlier = (Reason("options-cost-more", {"penalty": penalty}),)
    unmatched = tuple(
        Unmatched(patient, costlier if dear and why[0].code == "peers-full" else why)
        for patient, dear, why in zip(
            e.patients.ids[left].tolist(), dearer[left].tolist(), why_not, strict=True
        )
    )
    waiting = int((~matched & e.consented).sum())
    excluded = tuple(
        ExcludedPeer(int(e.peers.ids[j]), why) for j, why in sorted(e.exclusions.items())
    )
    encode_s, candidates_s, solve_s = timings
    return MatchResult(
        status=outcome.status,
        total_cost=pair_cost + load_cost + penalty * waiting,
        pair_cost=pair_cost,
        load_cost=load_cost,
        unmatched_penalty=penalty,
        pairs=pairs,
        unmatched=unmatched,
        excluded_peers=excluded,
        candidates=len(graph.arcs),
        exhaustive=graph.exhaustive,
        config_version=config.version,
        timings=Timings(encode_s, candidates_s, solve_s, time.perf_counter() - started),
    )
