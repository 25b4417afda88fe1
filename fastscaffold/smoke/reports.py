"""The machine-readable reports of a smoke run: JSON, and JUnit XML for CI dashboards.

JUnit: one ``<testsuite>`` per project, one ``<testcase>`` per step, a
``<failure>`` with the step's last output lines, ``<skipped>`` for the steps
not run. Characters XML 1.0 forbids (a tool's stray escape codes) are
dropped, so the file always parses.
"""

from __future__ import annotations

import json
import re
import xml.etree.ElementTree as ET
from typing import Any

from fastscaffold._version import __version__
from fastscaffold.smoke.results import SmokeReport, Status

_NOT_XML = re.compile("[^\t\n\r\x20-\ud7ff\ue000-\ufffd\U00010000-\U0010ffff]")
_ANSI = re.compile(r"\x1b\[[0-9;?]*[A-Za-z]")


def _clean(text: str) -> str:
    return _NOT_XML.sub("", _ANSI.sub("", text))


def report_data(report: SmokeReport) -> dict[str, Any]:
    """Return the report as JSON-ready data."""
    return {
        "fastscaffold": __version__,
        "ok": report.ok,
        "interrupted": report.interrupted,
        "seconds": round(report.seconds, 3),
        "patterns": list(report.patterns),
        "counts": report.counts(),
        "projects": [
            {
                "id": result.project.id,
                "with": list(result.project.with_patterns),
                "added_later": list(result.project.added_later),
                "edited": result.project.edited,
                "update_from": str(result.project.update_from or "") or None,
                "ok": all(step.status is Status.PASSED for step in result.steps),
                "steps": [
                    {
                        "name": step.name,
                        "status": step.status.value,
                        "seconds": round(step.seconds, 3),
                        "command": step.command,
                        "reason": step.reason,
                        "tail": list(step.tail),
                    }
                    for step in result.steps
                ],
            }
            for result in report.projects
        ],
    }


def to_json(report: SmokeReport) -> str:
    """Return the report as indented JSON."""
    return json.dumps(report_data(report), indent=2) + "\n"


def to_junit(report: SmokeReport) -> str:
    """Return the report as JUnit XML (``<testsuites>``)."""
    counts = report.counts()
    suites = ET.Element(
        "testsuites",
        name="fastscaffold smoke",
        tests=str(sum(len(r.steps) for r in report.projects)),
        failures=str(counts[Status.FAILED.value]),
        errors="0",
        skipped=str(counts[Status.SKIPPED.value] + counts[Status.PENDING.value]),
        time=f"{report.seconds:.3f}",
    )
    for result in report.projects:
        failed = sum(step.status is Status.FAILED for step in result.steps)
        skipped = sum(step.status in (Status.SKIPPED, Status.PENDING) for step in result.steps)
        suite = ET.SubElement(
            suites,
            "testsuite",
            name=result.project.id,
            tests=str(len(result.steps)),
            failures=str(failed),
            errors="0",
            skipped=str(skipped),
            time=f"{sum(step.seconds for step in result.steps):.3f}",
        )
        for step in result.steps:
            case = ET.SubElement(
                suite,
                "testcase",
                name=step.name,
                classname=f"smoke.{result.project.id}",
                time=f"{step.seconds:.3f}",
            )
            if step.status is Status.FAILED:
                failure = ET.SubElement(
                    case, "failure", message=_clean(f"{step.name} failed: {step.reason}")
                )
                failure.text = _clean("\n".join([f"$ {step.command}", *step.tail]))
            elif step.status is not Status.PASSED:
                reason = step.reason or "interrupted"
                ET.SubElement(case, "skipped", message=_clean(reason))
    ET.indent(suites)
    return '<?xml version="1.0" encoding="utf-8"?>\n' + ET.tostring(suites, "unicode") + "\n"
