"""Reasons for a run's outcome, as codes + parameters: why each pair was proposed, why each
unmatched patient was not matched. Built only for the patients concerned, never per
candidate arc. The sentences are in the matching file (``Reason.text``)."""

from __future__ import annotations

from collections.abc import Sequence
from types import MappingProxyType

import numpy as np

from stepwell.domain.matching.candidates import Arcs, Graph
from stepwell.domain.matching.config import MatchingConfig
from stepwell.domain.matching.encode import Encoded, Ints, member
from stepwell.domain.matching.model import Reason


class _Codes:
    """A mask → the tuple of its codes, in vocabulary order; cached per mask."""

    def __init__(self, codes: Sequence[str]) -> None:
        self.codes = tuple(codes)
        self.cache: dict[int, tuple[str, ...]] = {}

    def __call__(self, mask: int) -> tuple[str, ...]:
        found = self.cache.get(mask)
        if found is None:
            found = tuple(c for i, c in enumerate(self.codes) if mask >> i & 1)
            self.cache[mask] = found
        return found


class _Reasons:
    """Reasons are immutable and repeat across pairs (the same language, the same 12 km),
    so each distinct one is made once; their params are read-only views."""

    def __init__(self) -> None:
        self.cache: dict[tuple[str, object], Reason] = {}
        self.singles: dict[int, tuple[Reason]] = {}

    def get(self, code: str, key: object = None, **params: object) -> Reason:
        found = self.cache.get((code, key))
        if found is None:
            found = Reason(code, MappingProxyType(params))
            self.cache[(code, key)] = found
        return found

    def one(self, reason: Reason) -> tuple[Reason]:
        """``(reason,)``, one tuple per cached reason."""
        found = self.singles.get(id(reason))
        if found is None:
            found = self.singles[id(reason)] = (reason,)
        return found


def pair_reasons(
    e: Encoded, config: MatchingConfig, arcs: Arcs, final_load: Ints
) -> list[tuple[Reason, ...]]:
    """Per arc of ``arcs`` (the chosen pairs), why it suits: shared languages, experience,
    distance or remote, free time, format, continuity, and the peer's load afterwards
    (``final_load``: per peer index)."""
    pat, peer = e.patients, e.peers
    pi, pj = arcs.patient, arcs.peer
    langs = _Codes(config.codes("languages"))
    exps = _Codes(config.codes("experiences"))
    slots = _Codes(config.codes("slots"))
    mods = _Codes(config.codes("modalities"))
    continuing = member(e.pair_codes(pi, pj), e.previous, e.had_peer[pi])
    rows = zip(
        (pat.lang[pi] & peer.lang[pj]).tolist(),
        (pat.exp[pi] & peer.exp[pj]).tolist(),
        arcs.km.tolist(),
        arcs.remote.tolist(),
        (pat.slots[pi] & peer.slots[pj]).tolist(),
        (pat.slots[pi] != 0).tolist(),
        (pat.mods[pi] & peer.mods[pj]).tolist(),
        continuing.tolist(),
        final_load[pj].tolist(),
        e.max_patients[pj].tolist(),
        strict=True,
    )
    r = _Reasons()
    out = []
    for lang, exp, km, remote, slot, wants_slot, mod, again, load, most in rows:
        reasons = [r.get("pair-language", lang, languages=langs(lang))]
        if exp:
            reasons.append(r.get("pair-experience", exp, experiences=exps(exp)))
        if km == km:  # not NaN: both locations known
            whole_km = round(km)
            reasons.append(r.get("pair-distance", whole_km, km=whole_km))
        if remote:
            reasons.append(r.get("pair-remote"))
        if slot:
            reasons.append(r.get("pair-availability", slot, slots=slots(slot)))
        elif wants_slot:
            reasons.append(r.get("pair-no-shared-availability"))
        if mod:
            reasons.append(r.get("pair-modality", mod, modalities=mods(mod)))
        if again:
            reasons.append(r.get("pair-continuity"))
        reasons.append(r.get("pair-load", (load, most), load=load, max=most))
        out.append(tuple(reasons))
    return out


def _km(value: float) -> int | float:
    return int(value) if float(value).is_integer() else value


def unmatched_reasons(
    e: Encoded,
    config: MatchingConfig,
    graph: Graph,
    patients: Ints,
    solved: str | None,
) -> list[tuple[Reason, ...]]:
    """Per patient index in ``patients`` (none of them matched), the first reason that
    applies: no consent; no eligible peer speaks their language; none of the gender asked
    for does; none within reach; only peers they refused; their options went to others
    (or, when ``solved`` is a failed solver status, that the solver found no solution)."""
    pat, peer = e.patients, e.peers
    open_peers = np.flatnonzero(e.capacity > 0)
    offered = int(np.bitwise_or.reduce(peer.lang[open_peers])) if len(open_peers) else 0
    offered_by_gender = {
        int(g): int(np.bitwise_or.reduce(peer.lang[open_peers[peer.gender[open_peers] == g]]))
        for g in np.flatnonzero(np.bincount(peer.gender[open_peers] + 1)) - 1
    }
    options = np.bincount(graph.arcs.patient, minlength=len(pat)).tolist()
    langs = _Codes(config.codes("languages"))
    genders = config.codes("genders")
    r = _Reasons()
    far = _km(config.max_in_person_km)
    out: list[tuple[Reason, ...]] = []
    for i, lang, wanted, consented, reachable, located, remote in zip(
        patients.tolist(),
        pat.lang[patients].tolist(),
        pat.gender[patients].tolist(),
        e.consented[patients].tolist(),
        graph.reachable[patients].tolist(),
        pat.located[patients].tolist(),
        pat.remote[patients].tolist(),
        strict=True,
    ):
        reason: Reason
        if not consented:
            reason = r.get("no-consent")
        elif not lang & offered:
            reason = r.get("no-peer-language", lang, languages=langs(lang))
        elif wanted >= 0 and not lang & offered_by_gender.get(wanted, 0):
            reason = r.get(
                "no-peer-gender",
                (wanted, lang),
                gender=genders[wanted],
                languages=langs(lang),
            )
        elif not reachable:
            if not located and not remote:
                reason = r.get("no-location-no-remote")
            else:
                reason = r.get("no-peer-in-reach", km=far)
        elif not options[i]:
            reason = r.get("only-declined-peers")
        elif solved is not None:
            reason = r.get("not-solved", status=solved)
        else:
            reason = r.get("peers-full", options[i], candidates=options[i])
        out.append(r.one(reason))
    return out
