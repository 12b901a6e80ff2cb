"""The access rules of care coordination (``content/coordination/access.yaml``): local time
zones and quiet hours (network default, per-site overrides), travel limits, reminder lead
times, referral acceptance deadlines, inbound SMS keywords, and the appointment vocabulary
(modalities, attendance, cancellation reasons).

``parse_rules`` checks every field and raises ``CoordinationFileError`` naming the file and
the field, e.g. ``content/coordination/access.yaml: sites.clinic-x.time_zone: …``.
"""

from __future__ import annotations

import re
from collections.abc import Collection
from dataclasses import dataclass
from datetime import time
from typing import Any
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from stepwell.domain.content_files import ContentFileError, FileReader, Text
from stepwell.domain.coordination.appointments import ATTENDANCE_CODES, CONTACT_OUTCOMES
from stepwell.domain.coordination.inbound import fold
from stepwell.domain.coordination.referrals import URGENCIES

FIELDS = (
    "code",
    "version",
    "status",
    "default",
    "sites",
    "travel",
    "reminders",
    "referrals",
    "inbound",
    "modalities",
    "attendance",
    "cancellation_reasons",
)
# Modalities the code names (travel suggestions, the patient travelling): the file must
# define them, whatever else it adds.
SUGGESTED_MODALITIES = ("video", "phone", "home-visit")
REQUIRED_MODALITIES = ("in-person", *SUGGESTED_MODALITIES)

CODE = re.compile(r"[a-z0-9]+(?:-[a-z0-9]+)*\Z")  # "did-not-attend"
SITE_CODE = re.compile(r"[A-Za-z0-9_-]+\Z")  # a slug, as network.Site.code
KEYWORD = re.compile(r"[A-Z0-9]+\Z")  # one word, after folding case and accents
CLOCK = re.compile(r"(?:[01]\d|2[0-3]):[0-5]\d\Z")  # "21:00"


class CoordinationFileError(ContentFileError):
    """``content/coordination/access.yaml`` or ``messages.yaml`` is malformed; the message
    starts with the file and the field."""


@dataclass(frozen=True, slots=True)
class QuietHours:
    """No messages from ``start`` (inclusive) to ``end`` (exclusive), local wall time. The
    window may wrap midnight (21:00 to 08:00); ``start == end`` means no quiet hours."""

    start: time
    end: time

    def contains(self, local: time) -> bool:
        """Whether a local wall-clock time falls in the window (precondition: naive time)."""
        if self.start == self.end:
            return False
        if self.start < self.end:
            return self.start <= local < self.end
        return local >= self.start or local < self.end


@dataclass(frozen=True, slots=True)
class LocalRules:
    """Local time at a site: its IANA time zone and its quiet hours."""

    time_zone: str  # IANA name, e.g. "America/Chicago"; checked on load
    quiet_hours: QuietHours

    @property
    def zone(self) -> ZoneInfo:
        return ZoneInfo(self.time_zone)


@dataclass(frozen=True, slots=True)
class TravelRules:
    road_factor: float  # road distance / straight-line distance, >= 1
    speed_kmh: float  # average door-to-door speed on rural roads, > 0
    suggest_above_minutes: int  # one-way minutes above which alternatives are suggested
    suggest_above_km: float  # one-way road km above which alternatives are suggested


@dataclass(frozen=True, slots=True)
class ReminderRules:
    lead_hours: tuple[int, ...]  # (48, 2): remind 48 h and 2 h before an appointment
    check_in_hour: int  # local hour (0 to 23) at which check-in prompts are planned
    check_in_reply_days: int  # a prompt not answered within this many days is unanswered
    check_in_instrument: str  # the instrument a prompt links to and a short reply answers


@dataclass(frozen=True, slots=True)
class ReferralRules:
    accept_within_hours: dict[str, int]  # urgency ("routine", "urgent") -> elapsed hours


@dataclass(frozen=True, slots=True)
class InboundRules:
    """SMS keywords, stored folded (upper case, no accents): ``inbound.fold``."""

    opt_out: frozenset[str]  # STOP, BAJA, …
    opt_in: frozenset[str]  # START, ALTA, …
    short_scores: dict[str, str]  # keyword ("PHQ2") -> instrument code
    reply_match_days: int  # a short reply answers a check-in prompt sent this recently


@dataclass(frozen=True, slots=True)
class Modality:
    code: str
    label: Text
    in_person: bool  # the patient travels to a site (not a home visit: there staff travel)


@dataclass(frozen=True, slots=True)
class Attendance:
    code: str
    label: Text
    contact: str | None  # the contact outcome it records (CONTACT_OUTCOMES), None: none


@dataclass(frozen=True, slots=True)
class CoordinationRules:
    version: str
    default: LocalRules
    sites: dict[str, LocalRules]  # site code -> overrides (unset fields from the default)
    travel: TravelRules
    reminders: ReminderRules
    referrals: ReferralRules
    inbound: InboundRules
    modalities: dict[str, Modality]  # file order
    attendance: dict[str, Attendance]  # ATTENDANCE_CODES order
    cancellation_reasons: dict[str, Text]  # code -> label, file order

    def local_for(self, site_code: str | None) -> LocalRules:
        """The local rules at a site (its override, else the network default)."""
        if site_code is None:
            return self.default
        return self.sites.get(site_code, self.default)


class _Reader(FileReader):
    error = CoordinationFileError

    def top(self, data: Any, allowed: Collection[str]) -> dict[str, Any]:
        if not isinstance(data, dict):
            raise self.fail("(top level)", "must be a mapping")
        for key in data:
            if key not in allowed:
                raise self.fail(str(key), "is not a field of this file (typo?)")
        return data

    def number(self, data: Any, key: str, path: str, *, minimum: float, strict: bool) -> float:
        """A number at least ``minimum`` (above it when ``strict``)."""
        value = float(self.get(data, key, path, (int, float)))
        if value < minimum or (strict and value == minimum):
            relation = "above" if strict else "at least"
            raise self.fail(path, f"must be {relation} {minimum:g}, not {value:g}")
        return value

    def whole(self, data: Any, key: str, path: str, lowest: int, highest: int | None) -> int:
        value: int = self.get(data, key, path, int)
        if value < lowest or (highest is not None and value > highest):
            bounds = f"from {lowest}" + ("" if highest is None else f" to {highest}")
            raise self.fail(path, f"must be a whole number {bounds}, not {value}")
        return value

    def clock(self, data: Any, key: str, path: str) -> time:
        raw = self.get(data, key, path, (str, int))
        if isinstance(raw, int):
            # YAML 1.1 reads an unquoted 21:00 as the number 1260 (base 60).
            raise self.fail(path, 'write the time in quotes, e.g. "21:00"')
        if not CLOCK.match(raw):
            raise self.fail(path, f"{raw!r} is not a time like 21:00 (24-hour clock)")
        return time.fromisoformat(raw)

    def code(self, data: Any, key: str, path: str, seen: set[str]) -> str:
        value: str = self.get(data, key, path, str)
        if not CODE.match(value):
            raise self.fail(path, f"{value!r} is not a code (lower-case words joined by '-')")
        if value in seen:
            raise self.fail(path, f"{value!r} appears twice")
        seen.add(value)
        return value

    def entries(self, data: Any, key: str) -> list[Any]:
        value: list[Any] = self.get(data, key, key, list)
        if not value:
            raise self.fail(key, "needs at least one entry")
        return value


def _zone_name(r: _Reader, data: Any, path: str) -> str:
    name: str = r.get(data, "time_zone", path, str)
    try:
        ZoneInfo(name)
    except (ZoneInfoNotFoundError, ValueError):
        raise r.fail(path, f"{name!r} is not an IANA time zone (e.g. America/Chicago)") from None
    return name


def _quiet(r: _Reader, data: Any, path: str) -> QuietHours:
    raw = r.get(data, "quiet_hours", path, dict)
    return QuietHours(r.clock(raw, "start", f"{path}.start"), r.clock(raw, "end", f"{path}.end"))


def _local(r: _Reader, data: Any, path: str, inherit: LocalRules | None) -> LocalRules:
    """A ``default`` block; with ``inherit``, a site override whose fields are optional."""
    if not isinstance(data, dict):
        raise r.fail(path, "must be a mapping")
    if inherit is not None and not data:
        raise r.fail(path, "overrides nothing (give time_zone or quiet_hours)")
    for key in data:
        if key not in ("time_zone", "quiet_hours"):
            raise r.fail(f"{path}.{key}", "is not a field here (time_zone, quiet_hours)")
    zone = (
        inherit.time_zone
        if inherit is not None and "time_zone" not in data
        else _zone_name(r, data, f"{path}.time_zone")
    )
    quiet = (
        inherit.quiet_hours
        if inherit is not None and "quiet_hours" not in data
        else _quiet(r, data, f"{path}.quiet_hours")
    )
    return LocalRules(zone, quiet)


def _sites(r: _Reader, data: Any, default: LocalRules) -> dict[str, LocalRules]:
    raw = r.optional(data, "sites", "sites", (dict, type(None)), None) or {}
    out = {}
    for code, entry in raw.items():
        if not isinstance(code, str) or not SITE_CODE.match(code):
            raise r.fail(f"sites.{code}", f"{code!r} is not a site code")
        out[code] = _local(r, entry, f"sites.{code}", default)
    return out


def _travel(r: _Reader, data: Any) -> TravelRules:
    raw = r.get(data, "travel", "travel", dict)
    return TravelRules(
        road_factor=r.number(raw, "road_factor", "travel.road_factor", minimum=1, strict=False),
        speed_kmh=r.number(raw, "speed_kmh", "travel.speed_kmh", minimum=0, strict=True),
        suggest_above_minutes=r.whole(
            raw, "suggest_above_minutes", "travel.suggest_above_minutes", 1, None
        ),
        suggest_above_km=r.number(
            raw, "suggest_above_km", "travel.suggest_above_km", minimum=0, strict=True
        ),
    )


def _reminders(r: _Reader, data: Any) -> ReminderRules:
    raw = r.get(data, "reminders", "reminders", dict)
    leads = r.get(raw, "lead_hours", "reminders.lead_hours", list)
    seen: list[int] = []
    for n, value in enumerate(leads):
        if isinstance(value, bool) or not isinstance(value, int) or value < 1:
            raise r.fail(f"reminders.lead_hours[{n}]", f"must be whole hours from 1, not {value!r}")
        if value in seen:
            raise r.fail(f"reminders.lead_hours[{n}]", f"{value} appears twice")
        seen.append(value)
    return ReminderRules(
        lead_hours=tuple(seen),
        check_in_hour=r.whole(raw, "check_in_hour", "reminders.check_in_hour", 0, 23),
        check_in_reply_days=r.whole(
            raw, "check_in_reply_days", "reminders.check_in_reply_days", 1, 60
        ),
        check_in_instrument=_code(r, raw, "check_in_instrument", "reminders.check_in_instrument"),
    )


def _code(r: _Reader, data: Any, key: str, path: str) -> str:
    value = r.get(data, key, path, str)
    if not value.strip():
        raise r.fail(path, "must name an instrument code")
    return str(value.strip())


def _referrals(r: _Reader, data: Any) -> ReferralRules:
    raw = r.get(data, "referrals", "referrals", dict)
    hours = r.get(raw, "accept_within_hours", "referrals.accept_within_hours", dict)
    path = "referrals.accept_within_hours"
    for key in hours:
        if key not in URGENCIES:
            raise r.fail(f"{path}.{key}", "is not an urgency (" + ", ".join(URGENCIES) + ")")
    return ReferralRules({u: r.whole(hours, u, f"{path}.{u}", 1, None) for u in URGENCIES})


def _keywords(r: _Reader, data: Any, key: str, taken: dict[str, str]) -> list[str]:
    """Folded keywords of ``inbound.<key>``; ``taken`` (keyword -> path) catches a keyword
    listed twice or under two meanings."""
    raw = r.get(data, key, f"inbound.{key}", list)
    out = []
    for n, value in enumerate(raw):
        path = f"inbound.{key}[{n}]"
        out.append(_keyword(r, value, path, taken))
    return out


def _keyword(r: _Reader, value: Any, path: str, taken: dict[str, str]) -> str:
    if not isinstance(value, str):
        raise r.fail(path, f"must be a word, not {type(value).__name__}")
    word = fold(value)
    if not KEYWORD.match(word):
        raise r.fail(path, f"{value!r} must be one word of letters and digits")
    if word in taken:
        raise r.fail(path, f"{word!r} is already listed at {taken[word]}")
    taken[word] = path
    return word


def _inbound(r: _Reader, data: Any) -> InboundRules:
    raw = r.get(data, "inbound", "inbound", dict)
    taken: dict[str, str] = {}
    opt_out = _keywords(r, raw, "opt_out", taken)
    if not opt_out:
        # Carriers require a way to stop messages; a file without one is a mistake.
        raise r.fail("inbound.opt_out", "needs at least one keyword")
    opt_in = _keywords(r, raw, "opt_in", taken)
    scores = {}
    for word, code in r.get(raw, "short_scores", "inbound.short_scores", dict).items():
        path = f"inbound.short_scores.{word}"
        if not isinstance(code, str) or not code.strip():
            raise r.fail(path, "must name an instrument code")
        scores[_keyword(r, word, path, taken)] = code
    match_days = r.whole(raw, "reply_match_days", "inbound.reply_match_days", 1, 60)
    return InboundRules(frozenset(opt_out), frozenset(opt_in), scores, match_days)


def _modalities(r: _Reader, data: Any) -> dict[str, Modality]:
    seen: set[str] = set()
    out = {}
    for n, entry in enumerate(r.entries(data, "modalities")):
        path = f"modalities[{n}]"
        code = r.code(entry, "code", f"{path}.code", seen)
        label = r.text(entry, "label", f"{path}.label")
        out[code] = Modality(code, label, r.get(entry, "in_person", f"{path}.in_person", bool))
    for code in REQUIRED_MODALITIES:
        if code not in out:
            raise r.fail("modalities", f"{code!r} is required (the code suggests or names it)")
    return out


def _attendance(r: _Reader, data: Any) -> dict[str, Attendance]:
    seen: set[str] = set()
    found = {}
    for n, entry in enumerate(r.entries(data, "attendance")):
        path = f"attendance[{n}]"
        code = r.code(entry, "code", f"{path}.code", seen)
        if code not in ATTENDANCE_CODES:
            raise r.fail(f"{path}.code", f"{code!r} is not one of " + ", ".join(ATTENDANCE_CODES))
        contact = r.get(entry, "contact", f"{path}.contact", (str, type(None)))
        if contact is not None and contact not in CONTACT_OUTCOMES:
            listed = ", ".join(CONTACT_OUTCOMES)
            raise r.fail(f"{path}.contact", f"{contact!r} is not one of {listed} or null")
        found[code] = Attendance(code, r.text(entry, "label", f"{path}.label"), contact)
    for code in ATTENDANCE_CODES:
        if code not in found:
            raise r.fail("attendance", f"{code!r} is required (the code records it)")
    return {code: found[code] for code in ATTENDANCE_CODES}


def _reasons(r: _Reader, data: Any) -> dict[str, Text]:
    seen: set[str] = set()
    out = {}
    for n, entry in enumerate(r.entries(data, "cancellation_reasons")):
        path = f"cancellation_reasons[{n}]"
        out[r.code(entry, "code", f"{path}.code", seen)] = r.text(entry, "label", f"{path}.label")
    return out


def parse_rules(data: Any, *, source: str) -> CoordinationRules:
    """Validate a parsed ``access.yaml``. ``source`` is the path errors start with. Raises
    CoordinationFileError naming the file and the field."""
    r = _Reader(source)
    top = r.top(data, FIELDS)
    default = _local(r, r.get(top, "default", "default", dict), "default", None)
    return CoordinationRules(
        version=str(r.get(top, "version", "version", (str, int, float))),
        default=default,
        sites=_sites(r, top, default),
        travel=_travel(r, top),
        reminders=_reminders(r, top),
        referrals=_referrals(r, top),
        inbound=_inbound(r, top),
        modalities=_modalities(r, top),
        attendance=_attendance(r, top),
        cancellation_reasons=_reasons(r, top),
    )
