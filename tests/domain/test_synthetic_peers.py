"""The synthetic peer programme: deterministic per seed, coded by the content files, and
consistent with the programme rules (certification, supervision, matches, groups)."""

from __future__ import annotations

from collections import Counter
from datetime import UTC, date, datetime, timedelta
from pathlib import Path

import pytest
import yaml

from stepwell.domain.peers.curriculum import certification_status, completion_for
from stepwell.domain.peers.eligibility import supervision_reason
from stepwell.domain.synthetic.peers import PeerProgramme, peer_programme
from stepwell.domain.synthetic.region import Region, generate_region
from tests.domain.test_peer_content import CONTENT, PEER_CURRICULUM, RULES, VOCABULARY

TODAY = date(2026, 11, 23)
NOW = datetime(2026, 11, 23, 23, 0, tzinfo=UTC)
BARRIERS = Path(__file__).resolve().parents[2] / "content" / "coordination" / "barriers.yaml"
BARRIER_KINDS = tuple(
    k["code"] for k in yaml.safe_load(BARRIERS.read_text(encoding="utf-8"))["kinds"]
)


def _make(patients: int, seed: int) -> tuple[Region, PeerProgramme]:
    region = generate_region(patients=patients, seed=seed, today=TODAY)
    return region, peer_programme(region, CONTENT, BARRIER_KINDS, seed=seed, today=TODAY)


@pytest.fixture(scope="module")
def made() -> tuple[Region, PeerProgramme]:
    return _make(600, 4)


def test_same_seed_same_programme_other_seed_other_programme() -> None:
    region, first = _make(300, 2)
    assert peer_programme(region, CONTENT, BARRIER_KINDS, seed=2, today=TODAY) == first
    assert _make(300, 2) == (region, first)
    _, other = _make(300, 3)
    assert [e.occurred_at for e in other.encounters] != [e.occurred_at for e in first.encounters]


@pytest.mark.parametrize("patients", [1, 300, 5000])
def test_peers_at_every_lifecycle_stage_most_active(patients: int) -> None:
    region, programme = _make(patients, 1)
    states = Counter(p.state for p in region.peers)
    # Every state of the programme's lifecycle (content/peers/programme.yaml), not the
    # generator's own list.
    assert set(states) == set(RULES.lifecycle.states)
    assert states["active"] > len(region.peers) / 2
    assert {p.lapse for p in region.peers if p.state == "active"} == {
        "",
        "certification",
        "supervision",
    }
    assert [p.peer for p in programme.profiles] == [p.staff for p in region.peers]
    assert {region.staff[p.staff].role for p in region.peers} == {"peer"}
    demo = next(p for p in region.peers if region.staff[p.staff].username == "demo-peer")
    assert (demo.state, demo.lapse) == ("active", "")


def test_profiles_use_the_vocabulary_and_live_near_their_site(
    made: tuple[Region, PeerProgramme],
) -> None:
    region, programme = made
    for p in programme.profiles:
        assert set(p.languages) <= set(VOCABULARY.codes("languages"))
        assert set(p.lived_experience) <= set(VOCABULARY.codes("lived_experience"))
        assert p.lived_experience
        assert p.gender in VOCABULARY.codes("genders")
        assert set(p.modalities) <= set(VOCABULARY.codes("modalities"))
        assert set(p.availability) <= set(VOCABULARY.codes("availability"))
        assert p.max_patients is None or p.max_patients <= RULES.max_patients_limit
        home = region.sites[region.staff[p.peer].sites[0]]
        assert abs(p.latitude - home.latitude) < 0.6
        assert abs(p.longitude - home.longitude) < 0.6
    languages = Counter(lang for p in programme.profiles for lang in p.languages)
    assert languages["en"]
    assert languages["es"]


def test_training_adds_up_to_each_peers_state(made: tuple[Region, PeerProgramme]) -> None:
    region, programme = made
    modules = {m.code: m for m in PEER_CURRICULUM.modules}
    done: dict[int, list] = {p.staff: [] for p in region.peers}
    for t in programme.training:
        assert t.curriculum == PEER_CURRICULUM.code
        assert t.expires_on == modules[t.module].expires_on(t.completed_on)
        assert t.completed_on <= TODAY
        assert region.staff[t.assessor].role == "peer_supervisor"
        done[t.user].append(
            completion_for(
                modules[t.module], completed_on=t.completed_on, assessor_id=0, passed=t.passed
            )
        )
    expired_modules = set()
    for p in region.peers:
        status = certification_status(PEER_CURRICULUM, done[p.staff], NOW)
        if p.state == "applicant":
            assert not done[p.staff]
        elif p.state == "in_training":
            assert status.missing
            assert len(status.missing) < len(PEER_CURRICULUM.required)
        elif p.state in ("certified", "active", "paused"):
            assert not status.missing, p
            if p.lapse == "certification":
                assert len(status.expired) == 1
                expired_modules.add(status.expired[0].module)
            else:
                assert status.certified, p
    assert expired_modules == {"crisis-protocol"}


def test_supervision_current_except_for_the_overdue(made: tuple[Region, PeerProgramme]) -> None:
    region, programme = made
    last: dict[int, date] = {}
    for s in programme.supervision:
        assert s.format in VOCABULARY.codes("supervision_formats")
        assert s.held_on <= TODAY
        assert s.minutes >= RULES.supervision_min_minutes
        assert region.staff[s.supervisor].role == "peer_supervisor"
        for peer in s.attendees:
            supervised = set(region.staff[s.supervisor].sites)
            assert supervised & set(region.staff[peer].sites)
            last[peer] = max(last.get(peer, s.held_on), s.held_on)
        for n in s.encounters_reviewed:
            encounter = programme.encounters[n]
            assert encounter.peer in s.attendees
            assert encounter.occurred_at.date() < s.held_on
    for p in region.peers:
        if p.state != "active":
            continue
        reason = supervision_reason(last.get(p.staff), NOW, RULES)
        if p.lapse == "supervision":
            assert reason is not None
            assert reason.code == "supervision-overdue"
        else:
            assert reason is None, p


def test_requests_matches_and_rematches_hang_together(
    made: tuple[Region, PeerProgramme],
) -> None:
    region, programme = made
    active = {m.patient: m for m in region.matches}
    peers = {p.staff: p for p in region.peers}
    for m in region.matches:
        assert region.patients[m.patient].consent_peer_support
        assert peers[m.peer].state == "active"
        supervisor = region.staff[m.approved_by]
        assert supervisor.role == "peer_supervisor"
        assert region.patients[m.patient].site in supervisor.sites
    load = Counter(m.peer for m in region.matches)
    assert all(load[p] <= (peers[p].max_patients or 0) for p in load)
    open_requests = [r for r in programme.requests if r.matched_at is None]
    assert len(open_requests) >= 5
    assert len({r.patient for r in open_requests}) == len(open_requests)
    assert not {r.patient for r in open_requests} & set(active)
    matched = Counter(r.patient for r in programme.requests if r.matched_at is not None)
    assert set(active) <= set(matched)
    for r in programme.requests:
        assert region.patients[r.patient].consent_peer_support
        assert r.requested_at <= (r.matched_at or r.requested_at)
        assert set(r.availability) <= set(VOCABULARY.codes("availability"))
    assert 1 <= len(programme.rematches) == len(programme.ended_matches)
    for ended, rematch in zip(programme.ended_matches, programme.rematches, strict=True):
        assert (ended.peer, ended.patient) == (rematch.peer, rematch.patient)
        assert ended.approved_at < ended.ended_at == rematch.recorded_at
        assert rematch.reason in VOCABULARY.codes("rematch_reasons")
        assert rematch.patient in {r.patient for r in open_requests}
        assert rematch.patient not in active


def test_encounters_only_with_matched_patients(made: tuple[Region, PeerProgramme]) -> None:
    region, programme = made
    pairs = {(m.peer, m.patient): m.approved_at for m in region.matches}
    pairs.update({(m.peer, m.patient): m.approved_at for m in programme.ended_matches})
    moods = VOCABULARY.mood_values()
    assert len(programme.encounters) > len(region.matches)
    for e in programme.encounters:
        assert pairs[(e.peer, e.patient)] < e.occurred_at <= e.recorded_at
        assert e.occurred_at.date() < TODAY
        assert e.occurred_at.date() >= TODAY - timedelta(weeks=9)
        assert e.modality in VOCABULARY.codes("encounter_modalities")
        assert e.topics
        assert set(e.topics) <= set(VOCABULARY.codes("encounter_topics"))
        assert e.mood_before in moods
        assert e.mood_after in moods
        assert 0 < e.minutes <= RULES.encounter_max_minutes
        assert set(e.barriers) <= set(BARRIER_KINDS)
        assert e.next_contact_on > e.occurred_at.date()
    assert any(e.barriers for e in programme.encounters)


def test_groups_have_peer_facilitators_and_members_only_attend(
    made: tuple[Region, PeerProgramme],
) -> None:
    region, programme = made
    kinds = {g.kind for g in programme.groups}
    assert kinds == set(VOCABULARY.codes("group_kinds"))
    active = {p.staff for p in region.peers if p.state == "active"}
    for g in programme.groups:
        assert g.facilitators
        assert set(g.facilitators) <= active
        assert all(g.site in region.staff[f].sites for f in g.facilitators)
        assert len(g.members) >= 6
        assert all(region.patients[m].consent_peer_support for m in g.members)
    assert programme.sessions
    for s in programme.sessions:
        group = programme.groups[s.group]
        assert set(s.attended) <= set(group.members)
        assert s.recorded_by in group.facilitators
        assert s.held_at.date() < TODAY
    assert {s.group for s in programme.sessions} == set(range(len(programme.groups)))
