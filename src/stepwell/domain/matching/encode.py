"""Patients and peers as numpy arrays, so the candidate search and costs never loop in
Python over all patient-by-peer pairs.

Sets of codes become 64-bit masks (bit *i* is the *i*-th code of the vocabulary in the
file), genders become vocabulary indexes (-1: none), and locations become unit vectors on
the sphere (NaN rows when unknown), so a chord length gives the great-circle distance.
"""

from __future__ import annotations

import math
from collections.abc import Iterable, Sequence
from dataclasses import dataclass

import numpy as np
import numpy.typing as npt

from stepwell.domain.matching.config import CALLER_EXCLUSIONS, MatchingConfig
from stepwell.domain.matching.model import PatientNeed, PeerOffer, Reason

EARTH_RADIUS_KM = 6371.0088  # mean radius (IUGG)

Ints = npt.NDArray[np.int64]
Bools = npt.NDArray[np.bool_]
Floats = npt.NDArray[np.float64]


class MatchingInputError(ValueError):
    """A patient or peer record cannot be matched as given: an unknown code, a duplicate
    id, an impossible location. The message names the record's id and field."""


@dataclass(frozen=True, slots=True)
class Side:
    """What patients and peers share, one row each, in input order."""

    ids: Ints
    lang: Ints  # masks
    exp: Ints
    slots: Ints
    mods: Ints
    gender: Ints  # a patient's preference or a peer's gender; -1 for none
    unit: Floats  # (n, 3) unit vectors; NaN rows when the location is unknown
    located: Bools
    remote: Bools

    def __len__(self) -> int:
        return len(self.ids)


@dataclass(frozen=True, slots=True)
class Encoded:
    patients: Side
    peers: Side
    consented: Bools  # per patient
    previous: Ints  # pair codes patient_index * n_peers + peer_index, sorted
    had_peer: Bools  # per patient: one of its previous peers is in the run
    refuses: Bools  # per patient: refused one of the run's peers
    refused: Ints  # pair codes, sorted
    capacity: Ints  # per peer: new patients it may take; 0 when excluded
    active_load: Ints
    max_patients: Ints  # at least 1
    exclusions: dict[int, tuple[Reason, ...]]  # peer index -> reasons, for excluded peers

    def pair_codes(self, patient: Ints, peer: Ints) -> Ints:
        return patient * len(self.peers) + peer


class _Masks:
    """Code sets → masks for one vocabulary. Records repeat a few sets (``{"en", "es"}``),
    so each distinct set is converted once."""

    def __init__(self, field: str, codes: Sequence[str]) -> None:
        self.field = field
        self.bits = {code: 1 << i for i, code in enumerate(codes)}

    def masks(self, kind: str, ids: Sequence[int], sets: Sequence[frozenset[str]]) -> Ints:
        table: dict[frozenset[str], int] = {}
        for codes in set(sets):
            unknown = codes - self.bits.keys()
            if unknown:
                record_id = next(i for i, s in zip(ids, sets, strict=True) if s == codes)
                raise MatchingInputError(
                    f"{kind} {record_id}: {self.field}: {sorted(unknown)[0]!r} is not in "
                    f"the matching vocabulary"
                )
            table[codes] = sum(self.bits[c] for c in codes)
        return np.fromiter(map(table.__getitem__, sets), dtype=np.int64, count=len(sets))


def _unit_vectors(
    kind: str, ids: Sequence[int], locations: Sequence[tuple[float, float] | None]
) -> Floats:
    unknown = (math.nan, math.nan)
    coords = np.array(
        [unknown if loc is None else loc for loc in locations], dtype=np.float64
    ).reshape(len(locations), 2)
    lat, lon = coords[:, 0], coords[:, 1]
    located = ~np.isnan(lat) | ~np.isnan(lon)
    bad = located & ~((np.abs(lat) <= 90) & (np.abs(lon) <= 180))
    if bad.any():
        n = int(np.flatnonzero(bad)[0])
        raise MatchingInputError(f"{kind} {ids[n]}: location: not a latitude and longitude")
    phi, lam = np.radians(lat), np.radians(lon)
    return np.column_stack((np.cos(phi) * np.cos(lam), np.cos(phi) * np.sin(lam), np.sin(phi)))


def _genders(
    kind: str, config: MatchingConfig, ids: Sequence[int], values: Iterable[str | None]
) -> Ints:
    index = {code: i for i, code in enumerate(config.codes("genders"))}
    out = []
    for record_id, value in zip(ids, values, strict=True):
        if value is None:
            out.append(-1)
        elif value in index:
            out.append(index[value])
        else:
            raise MatchingInputError(
                f"{kind} {record_id}: gender: {value!r} is not in the matching vocabulary"
            )
    return np.array(out, dtype=np.int64)


def _side(
    kind: str,
    config: MatchingConfig,
    records: Sequence[PatientNeed] | Sequence[PeerOffer],
    genders: Iterable[str | None],
) -> Side:
    ids = [r.id for r in records]
    seen: set[int] = set()
    for record_id in ids:
        if record_id in seen:
            raise MatchingInputError(f"{kind} {record_id}: id appears twice")
        seen.add(record_id)
    for r in records:
        if not r.languages:
            raise MatchingInputError(f"{kind} {r.id}: languages: at least one is needed")
    unit = _unit_vectors(kind, ids, [r.location for r in records])

    def masks(field: str, vocabulary: str, attr: str) -> Ints:
        sets = [getattr(r, attr) for r in records]
        return _Masks(field, config.codes(vocabulary)).masks(kind, ids, sets)

    return Side(
        ids=np.array(ids, dtype=np.int64),
        lang=masks("languages", "languages", "languages"),
        exp=masks("lived_experience", "experiences", "lived_experience"),
        slots=masks("availability", "slots", "availability"),
        mods=masks("modalities", "modalities", "modalities"),
        gender=_genders(kind, config, ids, genders),
        unit=unit,
        located=~np.isnan(unit[:, 0]),
        remote=np.fromiter((r.remote_ok for r in records), dtype=np.bool_, count=len(records)),
    )


def _peer_exclusions(peer: PeerOffer, located: bool) -> tuple[Reason, ...]:
    """The caller's reasons (checked against CALLER_EXCLUSIONS), then the optimiser's own:
    no free place (unless the caller said ``at-capacity``), and no way to meet anyone."""
    reasons = []
    for given in peer.ineligible:
        params = CALLER_EXCLUSIONS.get(given.code)
        if params is None:
            known = ", ".join(sorted(CALLER_EXCLUSIONS))
            raise MatchingInputError(
                f"peer {peer.id}: ineligible: {given.code!r} is not a known reason ({known})"
            )
        missing = params - set(given.params)
        if missing:
            raise MatchingInputError(
                f"peer {peer.id}: ineligible: {given.code} needs {', '.join(sorted(missing))}"
            )
        reasons.append(Reason(given.code, given.params))
    if peer.capacity_left <= 0 and not any(r.code == "at-capacity" for r in reasons):
        reasons.append(
            Reason("no-free-place", {"load": peer.active_load, "max": peer.max_patients})
        )
    if not located and not peer.remote_ok:
        reasons.append(Reason("unreachable"))
    return tuple(reasons)


def _pair_codes(
    patients: Sequence[PatientNeed], attr: str, peer_index: dict[int, int], n_peers: int
) -> Ints:
    """Codes of (patient, peer) pairs listed on patients (ids of peers not in the run are
    ignored: a previous peer who left cannot be proposed anyway)."""
    codes = [
        i * n_peers + peer_index[peer_id]
        for i, p in enumerate(patients)
        for peer_id in getattr(p, attr)
        if peer_id in peer_index
    ]
    return unique(np.array(codes, dtype=np.int64))


def encode(
    patients: Sequence[PatientNeed], peers: Sequence[PeerOffer], config: MatchingConfig
) -> Encoded:
    """Arrays for ``patients`` and ``peers``. Raises MatchingInputError on a record that
    uses a code not in ``config``'s vocabularies, a duplicate id or a bad location."""
    pat = _side("patient", config, patients, (p.gender_preference for p in patients))
    peer_side = _side("peer", config, peers, (q.gender for q in peers))
    exclusions: dict[int, tuple[Reason, ...]] = {}
    capacity = np.zeros(len(peers), dtype=np.int64)
    for j, q in enumerate(peers):
        reasons = _peer_exclusions(q, bool(peer_side.located[j]))
        if reasons:
            exclusions[j] = reasons
        else:
            capacity[j] = q.capacity_left
    peer_index = {q.id: j for j, q in enumerate(peers)}
    previous = _pair_codes(patients, "previous_peer_ids", peer_index, len(peers))
    had_peer = np.zeros(len(patients), dtype=np.bool_)
    had_peer[previous // max(len(peers), 1)] = True
    refused = _pair_codes(patients, "refused_peer_ids", peer_index, len(peers))
    refuses = np.zeros(len(patients), dtype=np.bool_)
    refuses[refused // max(len(peers), 1)] = True
    return Encoded(
        patients=pat,
        peers=peer_side,
        consented=np.fromiter((p.consented for p in patients), dtype=np.bool_, count=len(patients)),
        previous=previous,
        had_peer=had_peer,
        refused=refused,
        refuses=refuses,
        capacity=capacity,
        active_load=np.array([max(0, q.active_load) for q in peers], dtype=np.int64),
        max_patients=np.array([max(1, q.max_patients) for q in peers], dtype=np.int64),
        exclusions=exclusions,
    )


def great_circle_km(u: Floats, v: Floats, ui: Ints, vi: Ints) -> Floats:
    """Distance in km between unit vectors ``u[ui]`` and ``v[vi]`` (NaN when unknown),
    from their dot product: chord² = 2 - 2 u·v (to within millimetres at these scales)."""
    dot = u[ui, 0] * v[vi, 0] + u[ui, 1] * v[vi, 1] + u[ui, 2] * v[vi, 2]
    half_chord = np.sqrt(np.maximum(2 - 2 * dot, 0)) / 2
    return np.asarray(2 * EARTH_RADIUS_KM * np.arcsin(np.minimum(half_chord, 1.0)))


def unique(values: Ints) -> Ints:
    """The distinct values, sorted. (numpy 2.4's ``np.unique`` hashes int64 arrays and is
    about 60 times slower than sorting for the millions of pair codes matching makes.)"""
    ordered = np.sort(values)
    if len(ordered) < 2:
        return ordered
    keep = np.empty(len(ordered), dtype=np.bool_)
    keep[0] = True
    np.not_equal(ordered[1:], ordered[:-1], out=keep[1:])
    return ordered[keep]


def member(values: Ints, sorted_set: Ints, where: Bools | None = None) -> Bools:
    """Per value: whether it is in ``sorted_set`` (sorted, distinct), by binary search
    (faster than ``np.isin`` here). ``where``: only these values can be members (e.g. the
    pairs of patients who refused someone); the others are not searched."""
    out = np.zeros(len(values), dtype=np.bool_)
    if not len(sorted_set):
        return out
    at = np.flatnonzero(where) if where is not None else np.arange(len(values))
    found = np.minimum(np.searchsorted(sorted_set, values[at]), len(sorted_set) - 1)
    out[at] = sorted_set[found] == values[at]
    return out
