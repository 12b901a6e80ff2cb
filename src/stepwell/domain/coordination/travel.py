"""Travel from a patient's home to the sites that could see them, and when to suggest not
travelling (video, phone, a home visit).

The method is deliberately simple and stated so it can be judged: the great-circle
(straight-line) distance between home and site, multiplied by a road factor (roads wind;
rural road networks are sparse) gives the road distance, and that distance at an average
door-to-door rural speed gives the minutes, rounded up. There is no routing service: it
would need the network, a paid API or a map extract, and patients' homes must not be sent
anywhere. ``road_factor``, ``speed_kmh`` and the limits are in
``content/coordination/access.yaml`` (``travel``), defaults to be confirmed locally.
Estimates are one way.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass

from stepwell.domain.coordination.rules import SUGGESTED_MODALITIES, TravelRules

EARTH_RADIUS_KM = 6371.0088  # the mean Earth radius (IUGG), for great-circle distances


@dataclass(frozen=True, slots=True)
class SiteLocation:
    site_id: int
    latitude: float  # decimal degrees, WGS 84
    longitude: float


@dataclass(frozen=True, slots=True)
class SiteTravel:
    site_id: int
    straight_km: float  # great-circle distance
    road_km: float  # straight_km * road_factor
    minutes: int  # one way, rounded up


@dataclass(frozen=True, slots=True)
class Suggestion:
    over_limit: bool
    modalities: tuple[str, ...]  # modality codes to offer instead of travelling, best first
    reason: str  # "travel-over-limit", "within-limit" or "no-home-location"


def haversine_km(lat1: float, lon1: float, lat2: float, lon2: float) -> float:
    """Great-circle distance in km between two points given in decimal degrees (latitude
    -90..90, longitude -180..180), on a sphere of the mean Earth radius (error under 0.5 %
    against the ellipsoid: plenty for an estimate of travel)."""
    phi1, phi2 = math.radians(lat1), math.radians(lat2)
    dphi = phi2 - phi1
    dlambda = math.radians(lon2 - lon1)
    a = math.sin(dphi / 2) ** 2 + math.cos(phi1) * math.cos(phi2) * math.sin(dlambda / 2) ** 2
    # min(): rounding can push ``a`` a hair above 1 for antipodal points.
    return 2 * EARTH_RADIUS_KM * math.asin(math.sqrt(min(1.0, a)))


def travel_to_sites(
    home: tuple[float, float] | None, sites: Sequence[SiteLocation], rules: TravelRules
) -> list[SiteTravel]:
    """Estimated one-way travel from ``home`` (latitude, longitude in decimal degrees) to
    each site, nearest in minutes first (ties by site id). Empty when the home location is
    unknown (None)."""
    if home is None:
        return []
    lat, lon = home
    out = []
    for site in sites:
        straight = haversine_km(lat, lon, site.latitude, site.longitude)
        road = straight * rules.road_factor
        minutes = math.ceil(road / rules.speed_kmh * 60)
        out.append(SiteTravel(site.site_id, straight, road, minutes))
    out.sort(key=lambda t: (t.minutes, t.site_id))
    return out


def suggest(
    travel: SiteTravel | None, rules: TravelRules, *, connectivity_barrier: bool
) -> Suggestion:
    """Whether travel to a site is over the limits (more than ``suggest_above_minutes``
    minutes or more than ``suggest_above_km`` road km, one way) and, if so, what to offer
    instead. ``travel`` None: the home location is unknown, nothing is suggested.

    With a connectivity barrier (poor phone or internet) a home visit comes first, and the
    phone before video, which needs the better connection."""
    if travel is None:
        return Suggestion(False, (), "no-home-location")
    over = travel.minutes > rules.suggest_above_minutes or travel.road_km > rules.suggest_above_km
    if not over:
        return Suggestion(False, (), "within-limit")
    video, phone, home_visit = SUGGESTED_MODALITIES
    order = (home_visit, phone, video) if connectivity_barrier else (video, phone, home_visit)
    return Suggestion(True, order, "travel-over-limit")
