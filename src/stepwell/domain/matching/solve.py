"""The matching optimiser: all waiting patients and available peers at once, solved exactly
as a minimum-cost flow with OR-Tools.

The network: each patient with options is a node with supply 1; an arc (capacity 1, the
pair's cost) to each candidate peer (``candidates.candidate_graph``); each peer reaches the
sink through one unit arc per free place, the *n*-th costing the load balance of its *n*-th
new patient. Those costs rise with *n* (convex), so a peer's places fill cheapest first and
the flow's cost is exactly the load-balance cost.

With ``unmatched_penalty: most-matches`` the solver finds a maximum flow of minimum cost: as
many patients matched as the candidate graph allows, then the least total cost. That is the
optimum of ``total_cost`` with the derived penalty (``result.unmatched_penalty``), found
without the penalty in the network: "waiting" arcs with a penalty that large made OR-Tools'
cost scaling about twice as slow on the 50,000-patient benchmark. With a whole-number
penalty each patient does get an arc (capacity 1, that penalty) to the sink, and the solver
trades waiting against cost.

*Optimal* means optimal over the candidate graph: the search keeps a few good options per
patient (the cheapest of its k nearest feasible peers and of the nearest sharing each of
its lived-experience tags, remote peers with spare places, previous peers). It is exact
over all pairs when nothing was pruned (``MatchResult.exhaustive``: every candidate count
is at least the number of peers); tests compare it with
``scipy.optimize.linear_sum_assignment`` over all pairs. The benchmark measures what
pruning costs against a search four times wider.
"""

from __future__ import annotations

import time
from collections.abc import Sequence

import numpy as np
from ortools.graph.python import min_cost_flow

from stepwell.domain.matching.candidates import Graph, candidate_graph
from stepwell.domain.matching.config import MatchingConfig
from stepwell.domain.matching.costs import load_costs
from stepwell.domain.matching.encode import Encoded, encode
from stepwell.domain.matching.model import MatchResult, PatientNeed, PeerOffer
from stepwell.domain.matching.result import Outcome, assemble, peer_units, unmatched_penalty


class SolverCostMismatchError(RuntimeError):
    """The solver's optimal cost disagrees with the cost of the flow it returned."""


def match(
    patients: Sequence[PatientNeed], peers: Sequence[PeerOffer], config: MatchingConfig
) -> MatchResult:
    """Propose peers for ``patients`` from ``peers`` at least total cost (see the module).

    Every patient appears once, in ``pairs`` or in ``unmatched`` (with a reason); every
    excluded peer is in ``excluded_peers`` with its reasons. Raises MatchingInputError
    (``encode``) on records the configuration cannot read.
    """
    started = time.perf_counter()
    e = encode(patients, peers, config)
    encoded = time.perf_counter()
    graph = candidate_graph(e, config)
    searched = time.perf_counter()
    penalty = unmatched_penalty(e, graph, config)
    outcome = _solve(e, graph, config, penalty)
    solved = time.perf_counter()
    return assemble(
        e,
        config,
        graph,
        outcome,
        penalty,
        (encoded - started, searched - encoded, solved - searched),
    )


def _solve(e: Encoded, graph: Graph, config: MatchingConfig, penalty: int) -> Outcome:
    arcs = graph.arcs
    if not len(arcs):
        return Outcome("OPTIMAL", np.zeros(0, dtype=np.int64))
    # Nodes: patients with arcs (arcs are sorted by patient), then peers with arcs, then
    # the sink.
    patient_node = np.cumsum(np.diff(arcs.patient, prepend=arcs.patient[0]) != 0)
    has_arc = np.bincount(arcs.peer, minlength=len(e.peers)) > 0
    peers = np.flatnonzero(has_arc)
    peer_node = (np.cumsum(has_arc) - 1)[arcs.peer]
    a, b = int(patient_node[-1]) + 1, len(peers)
    sink = a + b
    units, _ = peer_units(e, graph, config)
    units = units[peers]
    unit_peer = np.repeat(np.arange(b), units)
    nth = np.arange(len(unit_peer)) - np.repeat(np.cumsum(units) - units, units) + 1
    unit_cost = load_costs(e, peers[unit_peer], nth, config)

    tails = [patient_node, a + unit_peer]
    heads = [a + peer_node, np.full(len(unit_peer), sink)]
    costs = [arcs.cost, unit_cost]
    waiting_arcs = config.unmatched_penalty is not None
    if waiting_arcs:
        tails.append(np.arange(a))
        heads.append(np.full(a, sink))
        costs.append(np.full(a, penalty))
    flow = min_cost_flow.SimpleMinCostFlow()
    tail = np.concatenate(tails).astype(np.int32)
    flow.add_arcs_with_capacity_and_unit_cost(
        tail,
        np.concatenate(heads).astype(np.int32),
        np.ones(len(tail), dtype=np.int64),
        np.concatenate(costs).astype(np.int64),
    )
    supplies = np.zeros(sink + 1, dtype=np.int64)
    supplies[:a] = 1
    supplies[sink] = -a
    flow.set_nodes_supplies(np.arange(sink + 1, dtype=np.int32), supplies)
    status = flow.solve() if waiting_arcs else flow.solve_max_flow_with_min_cost()
    name = str(status.name)
    if status != flow.OPTIMAL:
        return Outcome(name, np.zeros(0, dtype=np.int64), failed=True)
    used = np.asarray(flow.flows(np.arange(len(tail), dtype=np.int32))) > 0
    pair_used = used[: len(arcs)]
    unit_used = used[len(arcs) : len(arcs) + len(unit_peer)]
    waited = used[len(arcs) + len(unit_peer) :]
    expected = (
        int(arcs.cost[pair_used].sum())
        + int(unit_cost[unit_used].sum())
        + penalty * int(waited.sum())
    )
    if int(flow.optimal_cost()) != expected:  # a guard: the result must price what it says
        raise SolverCostMismatchError(f"solver cost {flow.optimal_cost()} != flow's {expected}")
    return Outcome(name, np.flatnonzero(pair_used))
