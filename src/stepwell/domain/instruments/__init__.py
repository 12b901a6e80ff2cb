"""Instruments as data: definitions parsed from content files, scoring by one set of rules."""
