"""junit.xml: one testcase per rule so CI systems show the gate rule by rule."""

from __future__ import annotations

import xml.etree.ElementTree as ET

from ..findings import Status, Verdict


def junit_xml(verdict: Verdict) -> bytes:
    counts = {s: sum(f.status == s for f in verdict.findings) for s in Status}
    name = f"governance: {verdict.release.get('name', 'release')} {verdict.release.get('version', '')}".strip()
    suite = ET.Element("testsuite", {
        "name": name,
        "tests": str(len(verdict.findings)),
        "failures": str(counts[Status.FAIL]),
        "errors": str(counts[Status.ERROR]),
        "skipped": str(counts[Status.WAIVED] + counts[Status.INCONCLUSIVE]),
    })
    props = ET.SubElement(suite, "properties")
    ET.SubElement(props, "property", {"name": "decision", "value": verdict.decision})
    ET.SubElement(props, "property", {"name": "policy", "value": str(verdict.policy.get("name", ""))})
    for f in verdict.findings:
        case = ET.SubElement(suite, "testcase", {"classname": f"{f.kind}", "name": f.rule_id})
        text = f"[{f.severity}] {f.message}" + (f" RMF: {', '.join(f.rmf)}." if f.rmf else "")
        if f.status == Status.FAIL:
            el = ET.SubElement(case, "failure", {"message": f.message, "type": f.severity})
            el.text = text
        elif f.status == Status.ERROR:
            el = ET.SubElement(case, "error", {"message": f.message, "type": f.severity})
            el.text = text
        elif f.status in (Status.WAIVED, Status.INCONCLUSIVE):
            ET.SubElement(case, "skipped", {"message": f"{f.status.value}: {f.message}"})
        else:
            ET.SubElement(case, "system-out").text = text
    ET.indent(suite)
    return ET.tostring(suite, encoding="utf-8", xml_declaration=True) + b"\n"
