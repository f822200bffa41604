"""JUnit XML for CI systems: one testcase per check; fail and error fail the case."""

import xml.etree.ElementTree as ET
from typing import Sequence

from wire_preflight.model import ERROR, FAIL, SKIP, WARN, CheckResult


def write(results: Sequence[CheckResult], hostname: str, path: str) -> None:
    suite = ET.Element(
        "testsuite",
        {
            "name": f"wire-preflight {hostname}",
            "tests": str(len(results)),
            "failures": str(sum(r.status == FAIL for r in results)),
            "errors": str(sum(r.status == ERROR for r in results)),
            "skipped": str(sum(r.status == SKIP for r in results)),
        },
    )
    for r in results:
        case = ET.SubElement(
            suite,
            "testcase",
            {"classname": "wire-preflight.{}".format(r.role or "host"), "name": r.id},
        )
        detail = "{} (observed: {}; expected: {}){}".format(
            r.message, r.observed, r.expected, "; fix: " + r.remedy if r.remedy else ""
        )
        if r.status in (FAIL, ERROR):
            ET.SubElement(
                case, "failure" if r.status == FAIL else "error", {"message": r.message}
            ).text = detail
        elif r.status == SKIP:
            ET.SubElement(case, "skipped", {"message": r.message})
        elif r.status == WARN:
            ET.SubElement(case, "system-out").text = "warning: " + detail
    ET.ElementTree(suite).write(path, encoding="utf-8", xml_declaration=True)
