"""Template filters for content that carries its own translations (instrument files)."""

from __future__ import annotations

from django import template

from stepwell.domain.instruments.model import Instrument

register = template.Library()


@register.filter
def in_language(text: dict[str, str], language: str) -> str:
    """``{"en": …, "es": …}`` → the text in ``language``, falling back to English."""
    return text.get(language) or text.get("en", "")


@register.filter
def get(mapping: dict[str, object], key: str) -> object:
    """``mapping[key]``, or None: Django templates cannot index by a variable."""
    return mapping.get(key)


@register.filter
def band_label(instrument: Instrument, band_code: str) -> dict[str, str]:
    """The label (all languages) of one of ``instrument``'s bands; the code when unknown."""
    for band in instrument.bands:
        if band.code == band_code:
            return band.label
    return {"en": band_code}
