"""Travel estimates (great circle times road factor at a rural speed) and suggestions."""

from __future__ import annotations

import math

import pytest
from hypothesis import given
from hypothesis import strategies as st

from stepwell.domain.coordination.rules import TravelRules
from stepwell.domain.coordination.travel import (
    EARTH_RADIUS_KM,
    SiteLocation,
    SiteTravel,
    haversine_km,
    suggest,
    travel_to_sites,
)
from tests.domain.test_coordination_rules import RULES

RULES_1_5 = TravelRules(
    road_factor=1.5, speed_kmh=60, suggest_above_minutes=60, suggest_above_km=80
)
ONE_DEGREE_KM = 2 * math.pi * EARTH_RADIUS_KM / 360  # 111.195 km along a meridian


def test_london_to_paris() -> None:
    # Published great-circle distance between the city centres: about 343.5 km.
    london, paris = (51.5074, -0.1278), (48.8566, 2.3522)
    assert haversine_km(*london, *paris) == pytest.approx(343.5, abs=1.0)


def test_new_york_to_los_angeles() -> None:
    # JFK (40.6413, -73.7781) to LAX (33.9416, -118.4085): 3,983 km (2,475 mi) on the WGS 84
    # ellipsoid; a sphere is within 0.5 % of that.
    assert haversine_km(40.6413, -73.7781, 33.9416, -118.4085) == pytest.approx(3983, rel=0.005)


def test_geometry_of_the_sphere() -> None:
    assert haversine_km(0, 0, 1, 0) == pytest.approx(ONE_DEGREE_KM)
    assert haversine_km(0, 0, 0, 90) == pytest.approx(math.pi * EARTH_RADIUS_KM / 2)
    assert haversine_km(0, 0, 0, 180) == pytest.approx(math.pi * EARTH_RADIUS_KM)  # antipodes
    assert haversine_km(45, 179.5, 45, -179.5) == pytest.approx(haversine_km(45, 0, 45, 1))
    assert haversine_km(12.3, 45.6, 12.3, 45.6) == 0


coordinates = st.tuples(st.floats(-90, 90), st.floats(-180, 180))


@given(coordinates, coordinates)
def test_haversine_is_symmetric_and_bounded(a: tuple[float, float], b: tuple[float, float]) -> None:
    d = haversine_km(*a, *b)
    assert d == pytest.approx(haversine_km(*b, *a), abs=1e-6)
    assert 0 <= d <= math.pi * EARTH_RADIUS_KM + 1e-6


def test_travel_to_sites_road_distance_and_minutes() -> None:
    sites = [SiteLocation(7, 0.0, 1.0), SiteLocation(3, 0.5, 0.0), SiteLocation(5, 0.0, -0.5)]
    travel = travel_to_sites((0.0, 0.0), sites, RULES_1_5)
    half = ONE_DEGREE_KM / 2  # 55.6 km straight, 83.4 km by road, 83.4 minutes at 60 km/h
    assert [t.site_id for t in travel] == [3, 5, 7]  # ties (3 and 5) by site id
    assert travel[0].straight_km == pytest.approx(half)
    assert travel[0].road_km == pytest.approx(half * 1.5)
    assert travel[0].minutes == 84  # rounded up
    assert travel[2].minutes == math.ceil(ONE_DEGREE_KM * 1.5)


def test_no_home_location_no_travel() -> None:
    assert travel_to_sites(None, [SiteLocation(1, 0, 0)], RULES_1_5) == []


def test_no_sites() -> None:
    assert travel_to_sites((0.0, 0.0), [], RULES_1_5) == []


def _trip(minutes: int, road_km: float) -> SiteTravel:
    return SiteTravel(1, road_km / 1.5, road_km, minutes)


def test_within_the_limits() -> None:
    assert suggest(_trip(60, 80), RULES_1_5, connectivity_barrier=False) == suggest(
        _trip(10, 5), RULES_1_5, connectivity_barrier=True
    )
    result = suggest(_trip(60, 80), RULES_1_5, connectivity_barrier=False)  # at the limits
    assert not result.over_limit
    assert result.modalities == ()
    assert result.reason == "within-limit"


@pytest.mark.parametrize(("minutes", "road_km"), [(61, 10), (30, 80.5)])
def test_over_either_limit(minutes: int, road_km: float) -> None:
    result = suggest(_trip(minutes, road_km), RULES_1_5, connectivity_barrier=False)
    assert result.over_limit
    assert result.reason == "travel-over-limit"
    assert result.modalities == ("video", "phone", "home-visit")


def test_connectivity_barrier_puts_home_visit_first() -> None:
    result = suggest(_trip(90, 100), RULES_1_5, connectivity_barrier=True)
    assert result.modalities[0] == "home-visit"
    assert set(result.modalities) == {"video", "phone", "home-visit"}


def test_no_home_location_suggests_nothing() -> None:
    result = suggest(None, RULES_1_5, connectivity_barrier=True)
    assert (result.over_limit, result.modalities, result.reason) == (
        False,
        (),
        "no-home-location",
    )


def test_suggested_modalities_exist_in_the_shipped_file() -> None:
    for barrier in (False, True):
        result = suggest(_trip(999, 999), RULES.travel, connectivity_barrier=barrier)
        assert all(code in RULES.modalities for code in result.modalities)
        assert not any(RULES.modalities[code].in_person for code in result.modalities)
