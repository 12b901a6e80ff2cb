"""``stepwell assessments import FILE --as USERNAME``: all rows or none, problems by line."""

from __future__ import annotations

import csv
import io
from pathlib import Path

import pytest
from django.core.management import CommandError, call_command

from stepwell.apps.audit.models import AuditEvent
from stepwell.apps.measurement.models import Assessment
from stepwell.apps.patients.models import Patient
from tests.conftest import Network

HEADER = ("record_number", "instrument", "taken_at", "mode", "answers")
WHEN = "2026-11-20T10:00:00+01:00"
# PHQ-9 as published (Kroenke et al. 2001): nine items scored 0-3, total = their sum.
PHQ9 = [1, 2, 0, 3, 1, 0, 2, 1, 0]
GAD7 = [3, 3, 3, 0, 0, 0, 1]


def _answers(values: list[int]) -> str:
    return ";".join(str(v) for v in values)


def _row(
    patient: Patient,
    instrument: str = "PHQ-9",
    taken_at: str = WHEN,
    mode: str = "clinician",
    answers: str = _answers(PHQ9),
) -> list[str]:
    return [patient.record_number, instrument, taken_at, mode, answers]


def _csv(rows: list[list[str]], header: tuple[str, ...] = HEADER) -> str:
    out = io.StringIO()
    writer = csv.writer(out, lineterminator="\n")
    writer.writerow(header)
    writer.writerows(rows)
    return out.getvalue()


def _file(tmp_path: Path, text: str | bytes) -> Path:
    path = tmp_path / "forms.csv"
    if isinstance(text, bytes):
        path.write_bytes(text)
    else:
        path.write_text(text, encoding="utf-8", newline="")
    return path


def _run(path: Path, username: str = "clin-a") -> tuple[str, str]:
    out, err = io.StringIO(), io.StringIO()
    call_command("assessments", "import", str(path), "--as", username, stdout=out, stderr=err)
    return out.getvalue(), err.getvalue()


def _refused(path: Path, username: str = "clin-a") -> tuple[str, str]:
    """Run an import that must fail: (stderr, the final message). Checks nothing was kept."""
    before = Assessment.objects.count(), AuditEvent.objects.count()
    out, err = io.StringIO(), io.StringIO()
    with pytest.raises(CommandError) as failed:
        call_command("assessments", "import", str(path), "--as", username, stdout=out, stderr=err)
    assert failed.value.returncode == 2
    assert out.getvalue() == ""
    assert (Assessment.objects.count(), AuditEvent.objects.count()) == before
    return err.getvalue(), str(failed.value)


def _no_patient_data(network: Network, *texts: str) -> None:
    for patient in network.patients.values():
        for text in texts:
            assert patient.record_number not in text
            assert patient.given_name not in text
            assert patient.family_name not in text


def test_a_good_file_imports_every_row_scored_by_the_instrument_file(
    tmp_path: Path, network: Network
) -> None:
    p = network.patients
    path = _file(
        tmp_path,
        _csv(
            [
                _row(p["a1"]),
                _row(p["a1"], "GAD-7", "2026-11-21T09:30:00Z", answers=_answers(GAD7)),
                # b2 is registered at site B but treated at A: in the clinician's scope.
                _row(p["b2"], "phq-9", "2026-11-19T08:00:00-07:00", "chw", "3;3;3;3;3;3;3;3;3"),
                # b3 (site B) has clinician A on the care team; item 4 missing: prorated.
                _row(p["b3"], answers="1;1;1;;1;1;1;1;0"),
            ]
        ),
    )
    out, err = _run(path)
    assert err == ""
    assert out.strip() == (
        f"Imported 4 assessments from {path} (GAD-7: 1, PHQ-9: 3). "
        "1 of them has a safety item answered above zero: assess risk today."
    )
    _no_patient_data(network, out)
    phq9 = Assessment.objects.get(patient=p["a1"], instrument="PHQ-9")
    assert phq9.answers == PHQ9
    assert (phq9.total, phq9.band, phq9.caseness, phq9.prorated) == (
        sum(PHQ9),
        "moderate",
        True,
        False,
    )
    assert phq9.taken_at.isoformat() == "2026-11-20T09:00:00+00:00"
    assert (phq9.mode, phq9.recorded_by) == ("clinician", network.users["clinician"])
    assert phq9.episode == p["a1"].episodes.get()
    gad7 = Assessment.objects.get(patient=p["a1"], instrument="GAD-7")
    assert (gad7.total, gad7.band) == (sum(GAD7), "moderate")  # GAD-7 10-14
    worst = Assessment.objects.get(patient=p["b2"])
    assert (worst.instrument, worst.total, worst.band, worst.mode) == ("PHQ-9", 27, "severe", "chw")
    assert worst.safety == ["item-9"]
    prorated = Assessment.objects.get(patient=p["b3"])
    # 7 over 8 answered x 9 = 7.875 -> 8
    assert (prorated.total, prorated.prorated, prorated.missing) == (8, True, ["4"])
    assert prorated.answers == [1, 1, 1, None, 1, 1, 1, 1, 0]
    recorded = AuditEvent.objects.filter(action="assessment.recorded")
    assert recorded.count() == 4
    assert {e.actor_username for e in recorded} == {"clin-a"}


def test_not_applicable_text_items_bom_crlf_blank_lines_and_any_column_order(
    tmp_path: Path, network: Network
) -> None:
    a1 = network.patients["a1"]
    # Satisfaction: item "fft" allows na (unscored), then four items 0-4, then free text.
    header = ("answers", "mode", "taken_at", "instrument", "record_number")
    lines = [
        ",".join(header),
        "",
        f'"na;4;3;4;4;Kind staff; thank you",chw,{WHEN},Satisfaction,{a1.record_number}',
        ",,,,",
        f"NA;1;2;3;4;,chw,2026-11-10T10:00:00Z,SATISFACTION,{a1.record_number}",
    ]
    path = _file(tmp_path, "\ufeff" + "\r\n".join(lines) + "\r\n")
    err, _final = _refused(path, "chw-a")
    # A ';' inside a text answer separates answers (7, not 6); the line is the file's own.
    assert err == f"{path}:3: answers: SATISFACTION: 7 answers given, 6 items expected\n"
    lines[2] = f'"na;4;3;4;4;Kind staff, thank you",chw,{WHEN},Satisfaction,{a1.record_number}'
    path = _file(tmp_path, "\ufeff" + "\r\n".join(lines) + "\r\n")
    out, err = _run(path, "chw-a")
    assert err == ""
    assert "Imported 2 assessments" in out
    first, second = Assessment.objects.filter(patient=a1).order_by("taken_at")
    assert second.answers == ["na", 4, 3, 4, 4, "Kind staff, thank you"]
    assert second.total == 15
    assert first.answers == ["na", 1, 2, 3, 4, None]


def test_text_answers_never_reach_the_output(tmp_path: Path, network: Network) -> None:
    a1 = network.patients["a1"]
    path = _file(
        tmp_path,
        _csv(
            [
                _row(a1, "Satisfaction", answers="1;9;3;4;4;I feel hopeless"),
                _row(a1, "Satisfaction", taken_at="nope", answers="1;9;3;4;4;I feel hopeless"),
                # The comment one place too early: it lands in a numbered item.
                _row(a1, "Satisfaction", answers="1;2;3;4;I feel hopeless;"),
            ]
        ),
    )
    err, _final = _refused(path)
    assert "hopeless" not in err
    assert err.splitlines() == [
        f"{path}:2: answers: SATISFACTION item 1: 9 is not one of 0, 1, 2, 3, 4",
        f"{path}:3: taken_at: 'nope' is not an ISO 8601 date and time, "
        "e.g. 2026-11-20T10:00:00+01:00",
        f"{path}:3: answers: SATISFACTION item 1: 9 is not one of 0, 1, 2, 3, 4",
        f"{path}:4: answers: SATISFACTION item 4: not one of 0, 1, 2, 3, 4 "
        "(the value is not shown)",
    ]
    _no_patient_data(network, err)


@pytest.mark.parametrize(
    ("change", "field", "words"),
    [
        ({"answers": "0;0;4;0;0;0;0;0;0"}, "answers", "PHQ-9 item 3: 4 is not one of 0, 1, 2, 3"),
        ({"answers": "0;0;x;0;0;0;0;0;0"}, "answers", "PHQ-9 item 3: 'x' is not one of 0, 1, 2, 3"),
        ({"answers": "0;0;na;0;0;0;0;0;0"}, "answers", "PHQ-9 item 3: 'na' is not allowed"),
        ({"answers": "0;0;0;0;0;0;0;0"}, "answers", "8 answers given, 9 items expected"),
        ({"answers": "0;;;;0;0;0;0;0"}, "answers", "items 2, 3, 4 are missing"),
        ({"instrument": "XYZ"}, "instrument", "'XYZ' is not an instrument"),
        ({"instrument": ""}, "instrument", "required"),
        ({"taken_at": "2026-02-30T10:00:00Z"}, "taken_at", "'2026-02-30T10:00:00Z' is not an ISO"),
        ({"taken_at": "20/11/2026 10:00"}, "taken_at", "is not an ISO 8601 date and time"),
        ({"taken_at": "2026-11-20T10:00:00"}, "taken_at", "needs a time zone"),
        ({"taken_at": "2026-11-20"}, "taken_at", "needs a time zone"),
        ({"taken_at": "0001-01-01T00:00:00+05:00"}, "taken_at", "out of range"),
        ({"taken_at": "2999-01-01T00:00:00Z"}, "taken_at", "is in the future"),
        ({"mode": "portal"}, "mode", "'portal' is not one of chw, clinician"),
        ({"mode": "pigeon"}, "mode", "'pigeon' is not one of chw, clinician"),
        ({"record_number": "SW-NOSUCH99"}, "record_number", "no patient you may see has this"),
        ({"record_number": ""}, "record_number", "required"),
        # b1 exists, at site B, outside clinician A's scope: the same words as no patient.
        ({"patient": "b1"}, "record_number", "no patient you may see has this record number"),
    ],
)
def test_a_bad_row_stops_the_whole_import_naming_line_and_field(
    tmp_path: Path, network: Network, change: dict[str, str], field: str, words: str
) -> None:
    p = network.patients
    bad = dict(zip(HEADER, _row(p[change.get("patient", "a2")]), strict=True)) | change
    path = _file(
        tmp_path,
        _csv(
            [
                _row(p["a1"]),
                [bad[c] for c in HEADER],
                _row(p["b2"], "GAD-7", answers="0;" * 6 + "0"),
            ]
        ),
    )
    err, final = _refused(path)
    assert len(err.splitlines()) == 1, err  # one problem, one line
    assert err.startswith(f"{path}:3: {field}: "), err
    assert words in err
    assert final == f"1 problem in {path}; nothing was imported."
    _no_patient_data(network, err, final)


def test_every_problem_is_reported_in_file_order(tmp_path: Path, network: Network) -> None:
    p = network.patients
    path = _file(
        tmp_path,
        _csv(
            [
                _row(p["a1"], taken_at="yesterday", answers="0;0;7;0;0;0;0;0;0"),
                _row(p["a1"]),
                _row(p["a1"]),  # the same form again
                ["SW-2"],
                _row(p["b1"], mode="sms"),
                _row(p["a2"], "GAD-7", answers="0;0;0;0;0;0;9"),
            ]
        ),
    )
    err, final = _refused(path)
    assert err.splitlines() == [
        f"{path}:2: taken_at: 'yesterday' is not an ISO 8601 date and time, "
        "e.g. 2026-11-20T10:00:00+01:00",
        f"{path}:2: answers: PHQ-9 item 3: 7 is not one of 0, 1, 2, 3",
        f"{path}:4: taken_at: this patient already has a PHQ-9 assessment taken at this time "
        "(imported twice?)",
        f"{path}:5: columns: 1 value, expected 5 (one per column)",
        f"{path}:6: record_number: no patient you may see has this record number",
        f"{path}:6: mode: 'sms' is not one of chw, clinician",
        f"{path}:7: answers: GAD-7 item 7: 9 is not one of 0, 1, 2, 3",
    ]
    assert final == f"7 problems in {path}; nothing was imported."


@pytest.mark.django_db(transaction=True)
def test_nothing_is_committed_when_the_last_row_fails(tmp_path: Path, network: Network) -> None:
    p = network.patients
    rows = [_row(p["a1"]), _row(p["a2"]), _row(p["b2"], answers="9;0;0;0;0;0;0;0;0")]
    _refused(_file(tmp_path, _csv(rows)))
    assert not Assessment.objects.exists()
    assert not AuditEvent.objects.filter(action="assessment.recorded").exists()
    # The same file, fixed, imports in full afterwards.
    rows[-1] = _row(p["b2"])
    out, _err = _run(_file(tmp_path, _csv(rows)))
    assert "Imported 3 assessments" in out
    assert Assessment.objects.count() == 3


@pytest.mark.parametrize(
    ("username", "words"),
    [
        ("coord-a", "--as: coord-a (role coordinator) may not record assessments"),
        ("manager", "--as: manager (role manager) may not record assessments"),
        ("peer-a", "--as: peer-a (role peer) may not record assessments"),
        ("pat-a1", "--as: pat-a1 (role patient) may not record assessments"),
        ("nobody", "--as: no active user is named 'nobody'"),
    ],
)
def test_the_recorder_must_be_staff_who_may_record(
    tmp_path: Path, network: Network, username: str, words: str
) -> None:
    path = _file(tmp_path, _csv([_row(network.patients["a1"])]))
    err, final = _refused(path, username)
    assert err == ""
    assert final.startswith(words)


def test_an_inactive_recorder_is_refused(tmp_path: Path, network: Network) -> None:
    network.users["clinician"].is_active = False
    network.users["clinician"].save()
    _err, final = _refused(_file(tmp_path, _csv([_row(network.patients["a1"])])))
    assert final == "--as: no active user is named 'clin-a'"


@pytest.mark.parametrize(
    ("header", "words"),
    [
        (HEADER[:-1], "columns: missing answers (expected: record_number, instrument, "),
        ((*HEADER[:-1], "answer"), "columns: missing answers; unknown 'answer' (expected"),
        ((*HEADER, "notes"), "columns: unknown 'notes'"),
        ((*HEADER, "mode"), "columns: repeated mode"),
    ],
)
def test_missing_unknown_or_repeated_columns(
    tmp_path: Path, network: Network, header: tuple[str, ...], words: str
) -> None:
    row = _row(network.patients["a1"])[: len(header)]
    path = _file(tmp_path, _csv([row], header=header))
    err, final = _refused(path)
    assert err == ""
    assert final.startswith(f"{path}:1: {words}"), final


@pytest.mark.parametrize(
    ("content", "words"),
    [
        (b"", "{path}: the file is empty"),
        (b"  \n\n", "{path}: the file is empty"),
        (b",,,,\n", "{path}: the file is empty"),
        (",".join(HEADER).encode() + b"\n", "{path}: no rows after the header"),
        (
            ",".join(HEADER).encode() + b"\nSW-1,PHQ-9,x,chw,Jos\xe9\n",
            "{path}:2: not UTF-8 text; save the file as CSV in UTF-8",
        ),
        (
            ",".join(HEADER).encode() + b'\nSW-1,PHQ-9,x,chw,"1;2"3\n',
            "{path}:2: not valid CSV",
        ),
    ],
)
def test_unusable_files(tmp_path: Path, network: Network, content: bytes, words: str) -> None:
    path = _file(tmp_path, content)
    err, final = _refused(path)
    assert err == ""
    assert final.startswith(words.format(path=path)), final
    assert "Jos" not in final


def test_a_file_that_cannot_be_read(tmp_path: Path, network: Network) -> None:
    path = tmp_path / "missing.csv"
    _err, final = _refused(path)
    assert final == f"{path}: cannot read the file (No such file or directory)"
    _err, final = _refused(tmp_path)
    assert final.startswith(f"{tmp_path}: cannot read the file (")


def test_the_subcommand_is_required(network: Network) -> None:
    with pytest.raises(CommandError, match="action"):
        call_command("assessments", stdout=io.StringIO(), stderr=io.StringIO())
