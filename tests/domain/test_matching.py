"""Peer-patient matching on hand-made cases: the configuration file and its errors, what a
pair costs, the explanations in English and Spanish, excluded peers and unmatched patients
with their reasons, and records the optimiser refuses. Optimality and the hard rules on
random instances are in test_matching_optimality.py."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest
import yaml

from stepwell.domain.matching import (
    CALLER_EXCLUSIONS,
    MatchingConfigError,
    MatchingInputError,
    PatientNeed,
    PeerOffer,
    Reason,
    explain,
    greedy_match,
    match,
    pair_cost,
    parse_matching_config,
)
from stepwell.domain.matching.config import LABELLED_PARAMS, TEXT_PARAMS
from stepwell.domain.peers.reasons import ELIGIBILITY_PARAMS
from stepwell.domain.peers.reasons import Reason as PeerReason
from tests.domain.content_edits import DELETE, edited

ROOT = Path(__file__).resolve().parents[2]
CONFIG_FILE = ROOT / "content" / "peers" / "matching.yaml"
RAW = yaml.safe_load(CONFIG_FILE.read_text(encoding="utf-8"))
CONFIG = parse_matching_config(RAW, source=str(CONFIG_FILE))
SOURCE = "content/peers/matching.yaml"

HOME = (37.0, -106.0)  # degrees; 0.1° of latitude is 11.12 km


def north(km: float) -> tuple[float, float]:
    """A point ``km`` north of HOME."""
    return (HOME[0] + km / 111.195, HOME[1])


def patient(id: int = 1, **kw: Any) -> PatientNeed:
    kw.setdefault("languages", frozenset({"es"}))
    kw.setdefault("location", HOME)
    return PatientNeed(id=id, **kw)


def peer(id: int = 100, **kw: Any) -> PeerOffer:
    kw.setdefault("languages", frozenset({"es", "en"}))
    kw.setdefault("capacity_left", 2)
    kw.setdefault("max_patients", 5)
    kw.setdefault("location", HOME)
    return PeerOffer(id=id, **kw)


def texts(reasons: tuple[Reason, ...], language: str = "en") -> str:
    return explain(reasons, CONFIG, language)


# --- the configuration file ---------------------------------------------------------------


def test_the_shipped_file_parses() -> None:
    assert CONFIG.label == "peer-matching 1.0"
    assert CONFIG.weights.experience == 40
    assert CONFIG.max_in_person_km == 60
    assert CONFIG.unmatched_penalty is None  # most-matches
    assert len(CONFIG.slots) == 21
    assert CONFIG.slots[5] == "tue-evening"


@pytest.mark.parametrize(
    ("path", "value", "field"),
    [
        (["weights", "distance"], -1, "weights.distance: must be 0 or more"),
        (["weights", "distance"], 2_000_000, "weights.distance: must be 1000000 or less"),
        (["weights", "distance"], "far", "weights.distance: must be int"),
        (["weights", "kindness"], 3, "weights.kindness: is not a weight"),
        (["weights", "remote"], DELETE, "weights.remote: is required"),
        (["distance", "max_in_person_km"], 0, "distance.max_in_person_km: must be more than 0"),
        (["distance", "max_in_person_km"], True, "distance.max_in_person_km: must be a number"),
        (["availability", "slots_wanted"], 0, "availability.slots_wanted: must be 1 or more"),
        (["candidates", "nearest"], 0, "candidates.nearest: must be 1 or more"),
        (["candidates", "remote"], 99, "candidates.remote: must not be more than remote_pool"),
        (["candidates", "per_patient"], DELETE, "candidates.per_patient: is required"),
        (["unmatched_penalty"], "most", "unmatched_penalty: must be 'most-matches'"),
        (["unmatched_penalty"], 0, "unmatched_penalty: must be 'most-matches'"),
        (["unmatched_penalty"], True, "unmatched_penalty: must be 'most-matches'"),
        (["unmatched_penalty"], 10**10, "unmatched_penalty: must be 'most-matches'"),
        (["vocabulary", "languages", "Es"], {"en": "x", "es": "y"}, "vocabulary.languages.Es"),
        (["vocabulary", "experiences", "chronic-pain", "es"], DELETE, "vocabulary.experiences"),
        (["vocabulary", "slot_days", "mon-fri"], {"en": "x", "es": "y"}, "vocabulary.slot_days"),
        (["vocabulary", "modalities"], {}, "vocabulary.modalities: needs at least one code"),
        (["vocabulary", "colours"], {"red": {"en": "r", "es": "r"}}, "vocabulary.colours: is not"),
        (["vocabulary", "genders"], DELETE, "vocabulary.genders: is required"),
        (["texts", "pair-distance"], DELETE, "texts.pair-distance: is required"),
        (["texts", "pair-distance", "es"], "a {miles} millas", "texts.pair-distance.es: unknown"),
        (["texts", "pair-distance", "en"], "{km km", "texts.pair-distance.en: bad placeholder"),
        (["texts", "pair-hello"], {"en": "hi", "es": "hola"}, "texts.pair-hello: is not a code"),
        (["texts", "not-active", "es"], "", "texts.not-active.es: a non-empty text"),
        (["version"], [1], "version: must be str"),
    ],
)
def test_a_broken_file_names_the_file_and_field(path: list[Any], value: Any, field: str) -> None:
    with pytest.raises(MatchingConfigError) as caught:
        parse_matching_config(edited(RAW, path, value), source=SOURCE)
    assert str(caught.value).startswith(f"{SOURCE}: {field}")


def test_every_reason_has_a_sentence_in_english_and_spanish() -> None:
    samples: dict[str, object] = {
        "languages": ("es", "en"),
        "experiences": ("chronic-pain",),
        "modalities": ("video",),
        "slots": ("tue-evening",),
        "gender": "woman",
        "state": "paused",
        "modules": ("boundaries",),
    }
    for code, params in TEXT_PARAMS.items():
        filled = {name: samples.get(name, 7) for name in params}
        for language in ("en", "es"):
            sentence = Reason(code, filled).text(CONFIG, language)
            assert sentence.strip()
            assert "{" not in sentence
    assert set(LABELLED_PARAMS) <= {p for ps in TEXT_PARAMS.values() for p in ps}


def test_the_vocabulary_is_the_peer_programmes() -> None:
    """Records are coded with content/peers/vocabulary.yaml; matching must know every code."""
    programme = yaml.safe_load(
        (ROOT / "content" / "peers" / "vocabulary.yaml").read_text(encoding="utf-8")
    )
    pairs = {
        "lived_experience": "experiences",
        "languages": "languages",
        "genders": "genders",
        "modalities": "modalities",
        "availability": "slots",
    }
    for theirs, ours in pairs.items():
        codes = {entry["code"] for entry in programme[theirs]}
        assert codes == set(CONFIG.codes(ours)), theirs


def test_the_peer_programmes_eligibility_reasons_are_taken_as_they_are() -> None:
    """``PeerOffer.ineligible`` takes domain.peers' own reasons, every code of it."""
    samples = {
        "state": "paused",
        "modules": ("boundaries",),
        "module": "boundaries",
        "date": "2026-10-31",
        "last": "2026-09-01",
    }
    given = tuple(
        PeerReason(code, {name: samples.get(name, 3) for name in params})
        for code, params in ELIGIBILITY_PARAMS.items()
    )
    result = match([patient()], [peer(ineligible=given)], CONFIG)
    (excluded,) = result.excluded_peers
    assert [r.code for r in excluded.reasons] == list(ELIGIBILITY_PARAMS)
    for language in ("en", "es"):
        assert "{" not in texts(excluded.reasons, language)
    assert set(CALLER_EXCLUSIONS) == set(ELIGIBILITY_PARAMS)


# --- what a pair costs --------------------------------------------------------------------


def test_a_pair_costs_each_term_up_to_its_weight() -> None:
    p = patient(
        lived_experience=frozenset({"chronic-pain", "anxiety"}),
        availability=frozenset({"tue-evening", "thu-evening"}),
        modalities=frozenset({"in-person"}),
    )
    q = peer(
        lived_experience=frozenset({"chronic-pain"}),
        availability=frozenset({"tue-evening"}),
        modalities=frozenset({"in-person", "phone"}),
        location=north(12.0),
    )
    found = pair_cost(p, q, CONFIG)
    assert found is not None
    # experience 40 * 1/2 unshared = 20; availability 30 * 1/2 of the 2 slots wanted = 15;
    # modality shared = 0; distance 30 * 12/60 = 6
    assert (found.cost, found.remote) == (20 + 15 + 0 + 6, False)
    assert found.km == pytest.approx(12.0, abs=0.01)


@pytest.mark.parametrize(
    ("km", "remote_ok", "cost", "remote"),
    [
        (0.0, False, 0, False),
        (30.0, False, 15, False),  # 30 * 30/60
        (30.0, True, 12, True),  # remote (12) beats 15 in person
        (20.0, True, 10, False),  # in person (10) beats remote
        (59.9, False, 30, False),  # nearly the farthest in person
        (61.0, True, 12, True),  # only remote is possible
    ],
)
def test_distance_or_remote_whichever_is_cheaper(
    km: float, remote_ok: bool, cost: int, remote: bool
) -> None:
    found = pair_cost(
        patient(remote_ok=remote_ok), peer(location=north(km), remote_ok=remote_ok), CONFIG
    )
    assert found is not None
    assert (found.cost, found.remote) == (cost, remote)


def test_hard_rules_make_a_pair_impossible() -> None:
    assert pair_cost(patient(), peer(location=north(61)), CONFIG) is None  # too far, no remote
    assert pair_cost(patient(languages=frozenset({"pt"})), peer(), CONFIG) is None
    assert pair_cost(patient(gender_preference="woman"), peer(gender="man"), CONFIG) is None
    assert pair_cost(patient(gender_preference="woman"), peer(), CONFIG) is None  # unrecorded
    assert pair_cost(patient(refused_peer_ids=frozenset({100})), peer(), CONFIG) is None
    assert pair_cost(patient(consented=False), peer(), CONFIG) is None
    assert pair_cost(patient(), peer(capacity_left=0), CONFIG) is None
    paused = Reason("not-active", {"state": "paused"})
    assert pair_cost(patient(), peer(ineligible=(paused,)), CONFIG) is None
    assert pair_cost(patient(location=None), peer(), CONFIG) is None  # no way to meet
    assert pair_cost(patient(gender_preference="woman"), peer(gender="woman"), CONFIG)


def test_continuity_costs_nothing_with_a_previous_peer_and_its_weight_otherwise() -> None:
    before, other = peer(100), peer(101)
    p = patient(previous_peer_ids=frozenset({100}))
    peers = [before, other]
    assert pair_cost(p, before, CONFIG, peers=peers) == pair_cost(p, before, CONFIG)
    with_before = pair_cost(p, before, CONFIG, peers=peers)
    with_other = pair_cost(p, other, CONFIG, peers=peers)
    assert with_before is not None
    assert with_other is not None
    assert with_other.cost - with_before.cost == CONFIG.weights.continuity
    # A previous peer who is not in the run cannot be offered: nobody costs more for it.
    alone = pair_cost(p, other, CONFIG)
    assert alone is not None
    assert alone.cost == with_before.cost


# --- a run: pairs and their explanations --------------------------------------------------


def test_a_pair_is_explained_in_english_and_spanish() -> None:
    p = patient(
        lived_experience=frozenset({"chronic-pain", "anxiety"}),
        availability=frozenset({"tue-evening"}),
        modalities=frozenset({"in-person"}),
    )
    q = peer(
        lived_experience=frozenset({"chronic-pain"}),
        availability=frozenset({"tue-evening", "sat-morning"}),
        modalities=frozenset({"in-person"}),
        location=north(12.0),
        active_load=2,
    )
    result = match([p], [q], CONFIG)
    assert result.status == "OPTIMAL"
    (pair,) = result.pairs
    assert (pair.patient_id, pair.peer_id) == (1, 100)
    assert texts(pair.reasons) == (
        "both speak Spanish; shared experience of chronic pain; 12 km apart; "
        "both free Tuesday evenings; both prefer meeting in person; "
        "would support 3 of up to 5 patients"
    )
    assert texts(pair.reasons, "es") == (
        "idioma en común: español; experiencia compartida: dolor crónico; "
        "a 12 km de distancia; tiempo libre en común: martes por la tarde-noche; "
        "formato en común: encuentros en persona; "
        "acompañaría a 3 de un máximo de 5 pacientes"
    )
    assert pair.km == pytest.approx(12.0, abs=0.1)
    assert not pair.remote
    # The run's cost: the pair (experience 20, distance 6) + the peer's 3rd patient
    # (ceil(20 * 3/5) = 12); nobody waits.
    assert (result.pair_cost, result.load_cost, result.total_cost) == (26, 12, 38)
    assert pair.cost == 26


def test_remote_continuity_and_no_shared_time_are_said() -> None:
    p = patient(
        remote_ok=True,
        availability=frozenset({"mon-morning"}),
        previous_peer_ids=frozenset({100}),
    )
    q = peer(location=north(150), remote_ok=True, availability=frozenset({"sun-evening"}))
    (pair,) = match([p], [q], CONFIG).pairs
    assert texts(pair.reasons) == (
        "both speak Spanish; 150 km apart; remote support (both accept video or phone); "
        "no free time in common yet; has supported this patient before; "
        "would support 1 of up to 5 patients"
    )
    assert pair.remote
    assert [r.as_dict() for r in pair.reasons][1] == {
        "code": "pair-distance",
        "params": {"km": 150},
    }
    json.dumps([r.as_dict() for r in pair.reasons])  # stored as JSON by the caller


def test_most_matches_first_even_when_one_patient_pays_more() -> None:
    """A could take X (cheap) or Y (dear); B can only take X. Both are matched."""
    a = patient(1, languages=frozenset({"en"}), remote_ok=True)
    b = patient(2, languages=frozenset({"es"}), location=north(5))
    x = peer(100, capacity_left=1)
    y = peer(101, languages=frozenset({"en"}), capacity_left=1, location=north(200), remote_ok=True)
    result = match([a, b], [x, y], CONFIG)
    assert {(p.patient_id, p.peer_id) for p in result.pairs} == {(1, 101), (2, 100)}
    assert result.unmatched == ()
    greedy = greedy_match([a, b], [x, y], CONFIG)  # A, first, takes X; B is left waiting
    assert {(p.patient_id, p.peer_id) for p in greedy.pairs} == {(1, 100)}
    assert greedy.total_cost > result.total_cost
    assert texts(greedy.unmatched[0].reasons) == (
        "all 1 suitable peers considered were needed for other patients in this run"
    )


def test_load_balance_spreads_patients_between_equal_peers() -> None:
    patients = [patient(1), patient(2)]
    peers = [peer(100, max_patients=4), peer(101, max_patients=4)]
    result = match(patients, peers, CONFIG)
    assert {p.peer_id for p in result.pairs} == {100, 101}
    assert result.load_cost == 2 * 5  # each peer's 1st patient: ceil(20 * 1/4)


def test_a_busy_peer_costs_more_than_a_slightly_farther_free_one() -> None:
    busy = peer(100, active_load=3, max_patients=4, capacity_left=1)  # 4th patient: 20
    free = peer(101, max_patients=4, location=north(10))  # 1st patient: 5, +5 distance
    (pair,) = match([patient()], [busy, free], CONFIG).pairs
    assert pair.peer_id == 101


# --- excluded peers and unmatched patients ------------------------------------------------


def test_excluded_peers_are_listed_with_every_reason() -> None:
    expired = Reason("certification-expired", {"module": "boundaries", "date": "2026-10-31"})
    overdue = Reason("supervision-overdue", {"last": "2026-09-01", "days": 83, "limit": 30})
    paused = Reason("not-active", {"state": "paused"})
    full = Reason("at-capacity", {"active": 4, "proposed": 1, "max": 5})
    peers = [
        peer(100, ineligible=(expired, overdue)),
        peer(101, ineligible=(paused,)),
        peer(102, capacity_left=0, active_load=5),
        peer(103, capacity_left=0, ineligible=(full,)),  # the caller's reason is enough
        peer(104, location=None),
        peer(105),  # eligible
    ]
    result = match([patient(1), patient(2), patient(3)], peers, CONFIG)
    assert all(p.peer_id == 105 for p in result.pairs)
    excluded = {x.peer_id: texts(x.reasons) for x in result.excluded_peers}
    assert excluded == {
        100: "certification expired on 2026-10-31; "
        "supervision overdue (last session 2026-09-01, 83 days ago)",
        101: "not taking new matches (status: paused)",
        102: "no free place (5 of up to 5 patients)",
        103: "at capacity (4 active and 1 proposed, of at most 5)",
        104: "no location on record and no remote support offered",
    }
    spanish = {x.peer_id: texts(x.reasons, "es") for x in result.excluded_peers}
    assert spanish[101] == "no acepta nuevos emparejamientos (estado: en pausa)"
    (waiting,) = result.unmatched
    assert texts(waiting.reasons) == (
        "all 1 suitable peers considered were needed for other patients in this run"
    )


def test_every_unmatched_patient_has_its_reason() -> None:
    peers = [
        peer(100, gender="man", capacity_left=1),
        peer(101, gender="man", capacity_left=1, location=north(40)),
    ]
    patients = [
        patient(1, consented=False),
        patient(2, languages=frozenset({"pt", "fr"})),
        patient(3, gender_preference="woman"),
        patient(4, location=north(300)),
        patient(5, location=None),
        patient(6, location=north(40), refused_peer_ids=frozenset({100, 101})),
        patient(7),
        patient(8),
        patient(9),
    ]
    result = match(patients, peers, CONFIG)
    assert len(result.pairs) == 2
    reasons = {u.patient_id: texts(u.reasons) for u in result.unmatched}
    assert reasons[1] == "has not consented to peer support"
    assert reasons[2] == "no available peer speaks Portuguese, French"
    assert reasons[3] == "no available peer of the gender asked for (woman) speaks Spanish"
    assert reasons[4] == (
        "no suitable peer within 60 km, and remote support is not possible on both sides"
    )
    assert reasons[5] == "no location on record and remote support not accepted"
    assert reasons[6] == (
        "the only suitable peers are ones the patient asked not to be matched with again"
    )
    waiting = [i for i in (7, 8, 9) if i in reasons]
    assert len(waiting) == 1
    assert reasons[waiting[0]].startswith("all 2 suitable peers considered")
    spanish = {u.patient_id: texts(u.reasons, "es") for u in result.unmatched}
    assert spanish[3] == (
        "ninguna persona de apoyo disponible del género solicitado (mujer) habla español"
    )
    # Each consenting patient left waiting costs the penalty.
    assert result.total_cost == (
        result.pair_cost + result.load_cost + result.unmatched_penalty * (len(reasons) - 1)
    )


def test_a_whole_number_penalty_leaves_a_patient_waiting_when_cheaper() -> None:
    config = parse_matching_config({**RAW, "unmatched_penalty": 10}, source=SOURCE)
    near, far = patient(1), patient(2, location=north(50))  # distance alone costs 25
    result = match([near, far], [peer(capacity_left=2)], config)
    assert [p.patient_id for p in result.pairs] == [1]
    (waiting,) = result.unmatched
    assert waiting.reasons == (Reason("options-cost-more", {"penalty": 10}),)
    assert texts(waiting.reasons) == (
        "every suitable option costs more than leaving the patient waiting (10 points)"
    )
    assert result.total_cost == result.pair_cost + result.load_cost + 10


def test_empty_runs() -> None:
    for patients, peers in (([], []), ([patient()], []), ([], [peer()])):
        result = match(patients, peers, CONFIG)
        assert (result.status, result.pairs) == ("OPTIMAL", ())
        assert result.total_cost == result.unmatched_penalty * len(patients)
        assert len(result.unmatched) == len(patients)


def test_the_same_input_gives_the_same_result() -> None:
    patients = [patient(i, location=north(i)) for i in range(1, 30)]
    peers = [peer(100 + j, location=north(3 * j), capacity_left=1) for j in range(10)]
    first, second = match(patients, peers, CONFIG), match(patients, peers, CONFIG)
    assert first.pairs == second.pairs
    assert first.unmatched == second.unmatched


# --- records the optimiser refuses --------------------------------------------------------


@pytest.mark.parametrize(
    ("patients", "peers", "message"),
    [
        (
            [patient(7, lived_experience=frozenset({"flying"}))],
            [],
            "patient 7: lived_experience: 'flying' is not in the matching vocabulary",
        ),
        ([patient(7, gender_preference="wizard")], [], "patient 7: gender: 'wizard'"),
        ([patient(7), patient(7)], [], "patient 7: id appears twice"),
        ([patient(7, location=(95.0, 0.0))], [], "patient 7: location: not a latitude"),
        ([patient(7, languages=frozenset())], [], "patient 7: languages: at least one"),
        ([], [peer(5, availability=frozenset({"tue-night"}))], "peer 5: availability:"),
        (
            [],
            [peer(5, ineligible=(Reason("on-holiday"),))],
            "peer 5: ineligible: 'on-holiday' is not a known reason",
        ),
        (
            [],
            [peer(5, ineligible=(Reason("certification-expired", {"date": "2026-10-01"}),))],
            "peer 5: ineligible: certification-expired needs module",
        ),
    ],
)
def test_records_with_unknown_codes_are_refused(
    patients: list[PatientNeed], peers: list[PeerOffer], message: str
) -> None:
    with pytest.raises(MatchingInputError) as caught:
        match(patients, peers, CONFIG)
    assert str(caught.value).startswith(message)
