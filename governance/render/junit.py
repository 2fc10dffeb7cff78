"""junit.xml: one testcase per rule so CI systems show the gate rule by rule.

An inconclusive finding that blocks (a block rule under ``on_inconclusive: block``) is a ``<failure
type="inconclusive">``: the gate ruled against the release, so CI must show it red, while ``<error>`` stays
for rules that could not be applied at all. An inconclusive that does not block is ``<skipped>`` whose message
starts "not judged".

A failure or error of a ``warn`` or ``info`` rule does not block the release, so it is not a red test either:
``<skipped type="warn">`` whose message starts "fail (warn, does not block)", so a release that ships never shows
failed tests in CI views, while the finding stays visible."""

from __future__ import annotations

import re
import xml.etree.ElementTree as ET

from ..findings import Finding, Status, Verdict, decision_line


def not_judged_text(f: Finding) -> str:
    """What an inconclusive finding's testcase says: not judged, and what the policy made of it."""
    stance = f"on_inconclusive: {f.on_inconclusive}" if f.on_inconclusive else "stance not recorded"
    effect = "blocks the release" if f.blocks else "does not block"
    return f"not judged ({stance}, {effect}): {f.message}"


def not_blocking_text(f: Finding) -> str:
    """What a failed or erring warn/info rule's testcase says: its outcome, that it does not block, the finding."""
    return f"{f.status.value} ({f.severity}, does not block): {f.message}"


def _outcome(f: Finding) -> str:
    """failure | error | skipped | passed: how CI should show the rule (red only when it blocks)."""
    if f.status in (Status.FAIL, Status.ERROR):
        return ("failure" if f.status == Status.FAIL else "error") if f.blocks else "skipped"
    if f.status == Status.INCONCLUSIVE:
        return "failure" if f.blocks else "skipped"
    return "skipped" if f.status == Status.WAIVED else "passed"


#: characters XML 1.0 cannot hold, even escaped (ElementTree writes them raw: the file is then not XML)
_NOT_XML = re.compile("[\x00-\x08\x0b\x0c\x0e-\x1f\ufffe\uffff\ud800-\udfff]")


def _xml_safe(tree: ET.Element) -> None:
    """Replace what XML cannot hold (a control character in a slice value or a policy's text) with U+FFFD."""
    for el in tree.iter():
        if el.text:
            el.text = _NOT_XML.sub("\ufffd", el.text)
        for key, value in el.attrib.items():
            el.attrib[key] = _NOT_XML.sub("\ufffd", value)


def junit_xml(verdict: Verdict) -> bytes:
    outcomes = [_outcome(f) for f in verdict.findings]
    name = f"governance: {verdict.release.get('name', 'release')} {verdict.release.get('version', '')}".strip()
    suite = ET.Element("testsuite", {
        "name": name,
        "tests": str(len(verdict.findings)),
        "failures": str(outcomes.count("failure")),
        "errors": str(outcomes.count("error")),
        "skipped": str(outcomes.count("skipped")),
    })
    props = ET.SubElement(suite, "properties")
    ET.SubElement(props, "property", {"name": "decision", "value": verdict.decision})
    ET.SubElement(props, "property", {"name": "policy", "value": str(verdict.policy.get("name", ""))})
    ET.SubElement(props, "property", {"name": "decision_line", "value": decision_line(verdict)})
    ET.SubElement(props, "property", {"name": "not_judged", "value": str(len(verdict.not_judged))})
    for f in verdict.findings:
        case = ET.SubElement(suite, "testcase", {"classname": f"{f.kind}", "name": f.rule_id})
        text = f"[{f.severity}] {f.message}" + (f" RMF: {', '.join(f.rmf)}." if f.rmf else "")
        if f.status in (Status.FAIL, Status.ERROR) and not f.blocks:
            ET.SubElement(case, "skipped", {"message": not_blocking_text(f), "type": f.severity}).text = text
        elif f.status == Status.FAIL:
            el = ET.SubElement(case, "failure", {"message": f.message, "type": f.severity})
            el.text = text
        elif f.status == Status.ERROR:
            el = ET.SubElement(case, "error", {"message": f.message, "type": f.severity})
            el.text = text
        elif f.status == Status.INCONCLUSIVE and f.blocks:
            el = ET.SubElement(case, "failure", {"message": not_judged_text(f), "type": "inconclusive"})
            el.text = f"[{f.severity}] {not_judged_text(f)}" + (f" RMF: {', '.join(f.rmf)}." if f.rmf else "")
        elif f.status == Status.INCONCLUSIVE:
            ET.SubElement(case, "skipped", {"message": not_judged_text(f)})
        elif f.status == Status.WAIVED:
            ET.SubElement(case, "skipped", {"message": f"{f.status.value}: {f.message}"})
        else:
            ET.SubElement(case, "system-out").text = text
    _xml_safe(suite)
    ET.indent(suite)
    return ET.tostring(suite, encoding="utf-8", xml_declaration=True) + b"\n"
