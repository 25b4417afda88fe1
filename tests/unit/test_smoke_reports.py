"""The smoke run's reports: JSON and JUnit XML that parse, whatever a tool printed."""

import json
import xml.etree.ElementTree as ET

from fastscaffold.smoke.planning import SmokeProject
from fastscaffold.smoke.reports import to_json, to_junit
from fastscaffold.smoke.results import ProjectResult, SmokeReport, Status


def _report() -> SmokeReport:
    good = ProjectResult(SmokeProject("base"))
    for step in good.steps:
        step.status, step.seconds = Status.PASSED, 1.5
    bad = ProjectResult(SmokeProject("with-doomed", with_patterns=("doomed",)))
    for step in bad.steps:
        step.status = Status.PASSED
    pytest_step = bad.step("pytest")
    pytest_step.status, pytest_step.reason = Status.FAILED, "exit code 1"
    pytest_step.command = "python -m pytest -q"
    # A tool's colours and a stray control character: invalid in XML 1.0.
    pytest_step.tail = ("\x1b[31mFAILED\x1b[0m tests/test_doomed.py", "bell \x07 <&>")
    bad.step("check").status, bad.step("check").reason = Status.SKIPPED, "interrupted"
    return SmokeReport([good, bad], ("doomed",), seconds=12.0)


def test_junit_has_a_suite_per_project_and_a_case_per_step() -> None:
    report = _report()
    root = ET.fromstring(to_junit(report))
    assert root.tag == "testsuites"
    assert root.get("tests") == "14" and root.get("failures") == "1"
    suites = root.findall("testsuite")
    assert [s.get("name") for s in suites] == ["base", "with-doomed"]
    assert [c.get("name") for c in suites[0].findall("testcase")] == [
        s.name for s in report.projects[0].steps
    ]
    assert suites[0].get("failures") == "0"
    assert suites[1].get("failures") == "1" and suites[1].get("skipped") == "1"
    failed = suites[1].find("testcase[@name='pytest']")
    assert failed is not None
    failure = failed.find("failure")
    assert failure is not None
    assert failure.get("message") == "pytest failed: exit code 1"
    assert failure.text is not None
    assert "FAILED tests/test_doomed.py" in failure.text and "\x1b" not in failure.text
    assert "<&>" in failure.text
    check = suites[1].find("testcase[@name='check']")
    assert check is not None and check.find("skipped") is not None


def test_json_reports_each_step_and_the_verdict() -> None:
    data = json.loads(to_json(_report()))
    assert data["ok"] is False
    assert data["counts"]["failed"] == 1 and data["counts"]["passed"] == 12
    doomed = data["projects"][1]
    assert doomed["id"] == "with-doomed" and doomed["with"] == ["doomed"] and not doomed["ok"]
    step = next(s for s in doomed["steps"] if s["name"] == "pytest")
    assert step["status"] == "failed" and step["command"] == "python -m pytest -q"
    assert data["projects"][0]["ok"] is True


def test_an_interrupted_run_is_not_ok() -> None:
    report = _report()
    report.projects = report.projects[:1]
    assert report.ok
    report.interrupted = True
    assert not report.ok
