from __future__ import annotations

from datetime import date

from stepwell.domain.synthetic.names import FAMILY_SYNTHETIC
from stepwell.domain.synthetic.region import generate_region

TODAY = date(2026, 11, 23)


def test_same_seed_same_region_other_seed_other_region() -> None:
    a = generate_region(patients=200, seed=5, today=TODAY)
    b = generate_region(patients=200, seed=5, today=TODAY)
    c = generate_region(patients=200, seed=6, today=TODAY)
    assert a == b
    assert [p.record_number for p in a.patients] != [p.record_number for p in c.patients]


def test_region_is_plausible_and_consistent() -> None:
    region = generate_region(patients=2000, seed=1, today=TODAY)
    assert len({p.record_number for p in region.patients}) == 2000
    assert {p.family_name for p in region.patients} <= set(FAMILY_SYNTHETIC)
    assert {e.current_step for e in region.episodes if e.status != "discharged"} == {1, 2, 3, 4}
    share_es = sum(p.language == "es" for p in region.patients) / 2000
    assert 0.3 < share_es < 0.5
    kinds = {s.kind for s in region.sites}
    assert {"regional-hospital", "tertiary-centre", "primary-care"} <= kinds
    for e in region.episodes:
        assert e.steps[0].from_step is None
        assert e.steps[-1].to_step == e.current_step
        assert all(s.at.date() <= TODAY for s in e.steps)
        assert e.referral_date <= TODAY
        if e.first_contact_date:
            assert e.referral_date <= e.first_contact_date <= TODAY
        assert (e.status == "discharged") == bool(e.discharge_reason)
        assert e.current_step in region.sites[e.site].steps or e.current_step == 1
    for m in region.matches:
        patient = region.patients[m.patient]
        assert patient.consent_peer_support
        assert (
            patient.language in region.staff[m.peer].languages
            or region.staff[m.peer].username == "demo-peer"
        )
    assert set(region.demo_logins) == {
        "admin",
        "clinician",
        "coordinator",
        "chw",
        "peer",
        "supervisor",
        "manager",
        "patient",
    }
