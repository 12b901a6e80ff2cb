"""Request and response shapes. Inputs refuse unknown fields so typos are not ignored."""

from __future__ import annotations

from datetime import date, datetime
from typing import Literal

from ninja import Schema
from pydantic import ConfigDict, Field

Sex = Literal["female", "male", "intersex", "unknown"]
Gender = Literal["woman", "man", "non-binary", "other", "undisclosed"]
LanguageCode = Literal["en", "es"]
ChannelCode = Literal["sms", "email", "phone", "none"]
ReferralSourceCode = Literal[
    "self", "primary-care", "chw", "hospital", "emergency", "specialist", "peer", "other"
]


class StrictIn(Schema):
    model_config = ConfigDict(extra="forbid", str_strip_whitespace=True)


class ErrorItem(Schema):
    field: str
    message: str


class ErrorOut(Schema):
    detail: str
    errors: list[ErrorItem] = []


class TokenIn(StrictIn):
    username: str = Field(min_length=1, max_length=150)
    password: str = Field(min_length=1, max_length=512)


class TokenOut(Schema):
    token: str
    expires_at: datetime


class SiteRef(Schema):
    id: int
    name: str


class PatientOut(Schema):
    """A patient as the caller may see it. ``view`` is ``full`` or ``peer``; in the peer view
    the fields the patient has not shared are null."""

    id: int
    record_number: str
    view: Literal["full", "peer"]
    given_name: str
    family_name: str
    preferred_language: str
    preferred_channel: str
    phone: str | None = None
    email: str | None = None
    birth_date: date | None = None
    sex: str | None = None
    gender: str | None = None
    site: SiteRef | None = None
    current_step: int | None = None
    episode_status: str | None = None
    consent_peer_support: bool | None = None
    consent_share_with_peer: bool | None = None
    consent_sms: bool | None = None
    consent_email: bool | None = None
    home_latitude: float | None = None
    home_longitude: float | None = None


class PatientListOut(Schema):
    items: list[PatientOut]
    count: int


class PatientIn(StrictIn):
    given_name: str = Field(min_length=1, max_length=100)
    family_name: str = Field(min_length=1, max_length=100)
    birth_date: date
    sex: Sex
    gender: Gender
    preferred_language: LanguageCode
    site_id: int = Field(gt=0)
    preferred_channel: ChannelCode = "sms"
    phone: str = Field(default="", max_length=32, pattern=r"^$|^\+?[0-9 ()-]{6,31}$")
    email: str = Field(default="", max_length=254, pattern=r"^$|^[^@\s]+@[^@\s]+\.[^@\s]+$")
    consent_care: bool = True
    consent_peer_support: bool = False
    consent_share_with_peer: bool = False
    consent_sms: bool = False
    consent_email: bool = False
    home_latitude: float | None = None
    home_longitude: float | None = None


class StepChangeOut(Schema):
    from_step: int | None
    to_step: int
    changed_at: datetime
    reason: str
    decided_by: str | None
    protocol_version: str


class EpisodeOut(Schema):
    id: int
    patient_id: int
    site: SiteRef
    referral_source: str
    referral_date: date
    first_contact_date: date | None
    current_step: int
    status: str
    discharge_reason: str
    discharge_date: date | None
    step_history: list[StepChangeOut]
    care_team: list[str]


class EpisodeIn(StrictIn):
    patient_id: int = Field(gt=0)
    site_id: int = Field(gt=0)
    referral_source: ReferralSourceCode
    referral_date: date
    first_contact_date: date | None = None
    step: int = Field(default=1, ge=1, le=4)
    reason: str = Field(min_length=1, max_length=2000)


class CaseloadCell(Schema):
    site_id: int
    site_name: str
    step: int
    patients: int | None = Field(description="null when suppressed as a small cell")
    suppressed: bool


class CaseloadSummaryOut(Schema):
    cells: list[CaseloadCell]
    suppression: str


class BreakGlassIn(StrictIn):
    record_number: str = Field(min_length=3, max_length=16)
    reason: str = Field(min_length=1, max_length=2000)


class BreakGlassOut(Schema):
    patient_id: int
    granted_at: datetime
    expires_at: datetime
