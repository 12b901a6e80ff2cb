"""A greedy baseline for the optimiser: patients in input order, each taking its cheapest
option that still has a free place, priced exactly as the optimiser prices it (pair cost
plus the peer's next load-balance cost) over the same candidate graph. For comparison in
tests and the benchmark only: it is never better than ``match``, and often worse.
"""

from __future__ import annotations

import time
from collections.abc import Sequence

import numpy as np

from stepwell.domain.matching.candidates import Graph, candidate_graph
from stepwell.domain.matching.config import MatchingConfig
from stepwell.domain.matching.costs import load_costs
from stepwell.domain.matching.encode import Encoded, encode
from stepwell.domain.matching.model import MatchResult, PatientNeed, PeerOffer
from stepwell.domain.matching.result import Outcome, assemble, unmatched_penalty

GREEDY = "GREEDY"


def greedy_match(
    patients: Sequence[PatientNeed], peers: Sequence[PeerOffer], config: MatchingConfig
) -> MatchResult:
    """The greedy baseline's result, in the same form as ``match``'s (status ``GREEDY``)."""
    started = time.perf_counter()
    e = encode(patients, peers, config)
    encoded = time.perf_counter()
    graph = candidate_graph(e, config)
    searched = time.perf_counter()
    penalty = unmatched_penalty(e, graph, config)
    outcome = Outcome(GREEDY, _greedy(e, graph, config, penalty))
    solved = time.perf_counter()
    return assemble(
        e,
        config,
        graph,
        outcome,
        penalty,
        (encoded - started, searched - encoded, solved - searched),
    )


def _greedy(
    e: Encoded, graph: Graph, config: MatchingConfig, penalty: int
) -> np.ndarray[tuple[int], np.dtype[np.int64]]:
    arcs = graph.arcs
    # Each peer's load-balance cost for its 1st, 2nd, … new patient, flattened: peer j's
    # next place costs next_cost[offset[j] + taken[j]].
    places = e.capacity
    offset = (np.cumsum(places) - places).tolist()
    nth = np.arange(int(places.sum())) - np.repeat(np.cumsum(places) - places, places) + 1
    next_cost = load_costs(e, np.repeat(np.arange(len(places)), places), nth, config).tolist()
    free = places.tolist()
    taken = [0] * len(free)
    patients, peers, costs = arcs.patient.tolist(), arcs.peer.tolist(), arcs.cost.tolist()
    waiting_costs = config.unmatched_penalty is not None
    chosen: list[int] = []
    n, k = len(patients), 0
    while k < n:  # arcs are sorted by patient: one run of arcs per patient, in input order
        patient = patients[k]
        best, best_cost = -1, 0
        while k < n and patients[k] == patient:
            j = peers[k]
            if taken[j] < free[j]:
                cost = costs[k] + next_cost[offset[j] + taken[j]]
                if best < 0 or cost < best_cost:
                    best, best_cost = k, cost
            k += 1
        if best >= 0 and not (waiting_costs and best_cost > penalty):
            taken[peers[best]] += 1
            chosen.append(best)
    return np.array(chosen, dtype=np.int64)
