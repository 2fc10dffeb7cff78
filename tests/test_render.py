"""The documents: what `governance check` and `governance render` write, and what a reviewer reads back.

PDFs are slow (1-3 s each), so few are rendered and shared through module-scoped fixtures.
"""

from __future__ import annotations

import io
import json
import re
import shutil
import subprocess
import sys
from pathlib import Path

import pytest
import yaml

from governance.card import CARD_NOT_FOUND, MISSING, CardFacts
from governance.cli import main
from governance.evidence.schema import (
    Documentation,
    Evidence,
    FileRef,
    Leakage,
    LeakageSet,
    PiiColumn,
    PiiScan,
    ProvenanceEvidence,
)
from governance.provenance import Provenance
from governance.render import RENDERERS, RenderContext, render_all
from governance.render.sample import sample_evidence, sample_verdict
from governance.render.templating import TEMPLATE_ERROR, autoescape

DOCUMENTS = {"model_card.md", "model_card.html", "audit_report.html", "audit_report.pdf"}
HOSTILE = '<script>alert("card")</script>'


def pdf_text(content: bytes) -> str:
    from pypdf import PdfReader

    return "\n".join(page.extract_text() for page in PdfReader(io.BytesIO(content)).pages)


@pytest.fixture(scope="module")
def checked(release_dir, tmp_path_factory) -> Path:
    """`governance check` on the test release, with a card whose description holds markup."""
    d = tmp_path_factory.mktemp("checked")
    rel = d / "rel"
    shutil.copytree(release_dir, rel)
    card = {"model_details": {"description": f"Scores applications. {HOSTILE}", "owners": ["Risk team"],
                              "license": "apache-2.0", "pruning": {"method": "magnitude", "target_sparsity": 0.25}},
            "limitations": ['<img src="http://127.0.0.1:9/x.png"> is text here']}
    (rel / "card.yaml").write_text(yaml.safe_dump(card))
    manifest = yaml.safe_load((rel / "release.yaml").read_text())
    (rel / "release.yaml").write_text(yaml.safe_dump({**manifest, "card": "card.yaml"}))
    assert main(["check", str(rel / "release.yaml"), "--out", str(d / "out"), "--quiet"]) == 0
    return d / "out"


def with_data_sections(evidence: Evidence) -> Evidence:
    """The sample evidence plus provenance, leakage, PII and documentation sections, with one of each problem:
    a file whose hash differs, one that could not be hashed, a URI-only dataset, a leakage overlap, a dataset
    that could not be compared and a column with e-mail addresses."""
    data_sha, base_sha = evidence.data.file.sha256, evidence.models["baseline"].file.sha256
    cand_sha = evidence.models["candidate"].file.sha256
    declared = Provenance.model_validate({
        "datasets": {
            "sample-eval": {"role": "evaluation", "path": "eval.csv", "sha256": data_sha, "source": "branch network",
                            "license": "CC-BY-4.0", "collection_period": {"start": "2025-01-01", "end": "2025-06-30"},
                            "consent_basis": "contract", "personal_data": ["notes"]},
            "sample-train": {"role": "training", "path": "train.parquet", "sha256": "a" * 64, "license": "CC0-1.0"},
            "sample-finetune": {"role": "fine-tuning", "path": "finetune.parquet", "source": "call centre"},
            "sample-val": {"role": "validation", "uri": "s3://bucket/validation.parquet"},
        },
        "models": {
            "sample-base": {"sha256": base_sha, "license": "Apache-2.0"},
            "sample-pruned": {"sha256": cand_sha, "parent": base_sha, "license": "Apache-2.0",
                              "pruning": {"method": "global magnitude pruning", "settings": {"amount": 0.55}}},
        },
    })
    provenance = ProvenanceEvidence(
        file=FileRef(path="provenance.yaml", sha256="c" * 64, bytes=900), declared=declared,
        files={"sample-eval": evidence.data.file,
               "sample-train": FileRef(path="train.parquet", sha256="b" * 64, bytes=5000)},
        unavailable={"sample-finetune": "file not found: finetune.parquet"})
    leakage = Leakage(method="64-bit row hash", columns=["x0", "x1", "label"], evaluation_rows=evidence.data.rows,
                      evaluation_distinct_rows=evidence.data.rows - 3, datasets={
                          "sample-train": LeakageSet(role="training", file=provenance.files["sample-train"],
                                                     rows=50_000, overlap_rows=37,
                                                     overlap_share=37 / evidence.data.rows),
                          "sample-finetune": LeakageSet(role="fine-tuning", problem="no local file")})
    zero = {d: 0 for d in ("email", "phone", "ssn", "payment_card", "ip_address")}
    pii = PiiScan(method="first 1000 rows", detectors=list(zero), rows_sampled=1000,
                  columns={"x0": PiiColumn(sampled=1000, matches=zero),
                           "notes": PiiColumn(sampled=800, matches={**zero, "email": 40, "phone": 3})},
                  not_scanned=["x1"])
    documentation = Documentation(card_file=None, sections={
        "intended_use": False, "intended_use.primary_uses": False, "intended_use.out_of_scope_uses": False,
        "model_details": True, "model_details.name": True, "model_details.citation": False, "limitations": True})
    robustness = evidence.robustness.model_copy(update={
        "feature_std": {"x0": 1.5, "x1": 0.25}, "std_source": "the first 5000 rows used",
        "notes": ["FGSM levels skipped: the models expose no input gradient"]})
    return evidence.model_copy(update={"provenance": provenance, "leakage": leakage, "pii": pii,
                                       "documentation": documentation, "robustness": robustness})


@pytest.fixture(scope="module")
def blocked_sample() -> dict[str, bytes]:
    """Every optional evidence section filled, 12 slices, a blocked verdict: all four documents in memory."""
    evidence = with_data_sections(sample_evidence(slices=12))
    return render_all(RenderContext(evidence, sample_verdict(evidence, blocked=True)), sorted(DOCUMENTS))


# --- check writes everything; the PDF answers the reviewer's question --------------------------------
def test_check_writes_all_documents(checked):
    assert {p.name for p in checked.iterdir()} >= DOCUMENTS | {"evidence.json", "verdict.json", "junit.xml"}


def test_pdf_names_the_decision_every_rule_and_the_release_on_each_page(checked):
    from pypdf import PdfReader

    verdict = json.loads((checked / "verdict.json").read_text())
    content = (checked / "audit_report.pdf").read_bytes()
    reader = PdfReader(io.BytesIO(content))
    first = reader.pages[0].extract_text()
    assert "SHIP\nNo block-severity rule failed" in first and "decision pass" not in first
    for f in verdict["findings"]:
        assert f["rule_id"] in first  # every rule with its status is on the first page
    pages = [p.extract_text() for p in reader.pages]
    assert len(pages) >= 3
    for i, text in enumerate(pages, 1):
        assert f"page {i} of {len(pages)}" in text and "credit-lr" in text
    text = "\n".join(pages)
    for heading in ("NIST AI RMF references", "GOVERN", "MAP", "MEASURE", "MANAGE", "Waivers",
                    "No waivers", "Per slice", "Provenance", "NIST AI RMF coverage", "human attestation"):
        assert heading in text, heading
    assert "MEASURE 2.3" in text and "AI system performance or assurance criteria" in text  # RMF wording
    evidence = json.loads((checked / "evidence.json").read_text())
    assert evidence["inputs"]["data"]["sha256"][:20] in text.replace("\n", "")
    assert not PdfReader(io.BytesIO(content)).attachments


def test_blocked_pdf_leads_with_the_blocking_rules_and_their_margin(blocked_sample):
    from pypdf import PdfReader

    first = " ".join(PdfReader(io.BytesIO(blocked_sample["audit_report.pdf"])).pages[0].extract_text().split())
    assert "BLOCKED Blocked by 1 rule: PERF-001 (0.0027 past the limit)." in first  # never "decision blocked"
    assert "0.0027 past the limit" in first.split("Every rule of the policy")[0]


def test_documents_are_self_contained(checked, blocked_sample):
    for html in ((checked / "model_card.html").read_text(), (checked / "audit_report.html").read_text(),
                 blocked_sample["audit_report.html"].decode()):
        assert "<script" not in html.lower()
        assert not re.search(r"""(?:src|href)\s*=\s*["']?(?:https?:|file:|//)""", html, re.I)
        assert "<link" not in html.lower() and "<style>" in html and "<svg" in html


def test_card_markup_is_shown_as_text(checked):
    for name in ("model_card.html", "audit_report.html"):
        html = (checked / name).read_text()
        assert "<script" not in html and "<img" not in html
    card = (checked / "model_card.html").read_text()
    assert "&lt;script&gt;alert(&#34;card&#34;)&lt;/script&gt;" in card
    assert "&lt;img src=&#34;http://127.0.0.1:9/x.png&#34;&gt;" in card


def test_optional_sections_say_not_measured_when_absent(checked, blocked_sample):
    evidence = json.loads((checked / "evidence.json").read_text())
    html = (checked / "audit_report.html").read_text()
    for section, phrase in (("efficiency", "Not measured: efficiency"), ("robustness", "Not measured: robustness"),
                            ("calibration", "Not measured: calibration")):
        assert (phrase in html) == (evidence.get(section) is None), section
    full = blocked_sample["audit_report.html"].decode()
    assert "Not measured" not in full
    assert "reliability diagram" in full and "candidate / baseline ratios" in full
    assert "gaussian" in full and "paired percentile bootstrap" in full
    text = pdf_text(blocked_sample["audit_report.pdf"])
    assert "expected calibration error" in text and "speed-up" in text and "extra drop" in text


def test_pdf_shows_data_and_lineage_with_hash_checks_leakage_pii_and_documentation(blocked_sample):
    text = " ".join(pdf_text(blocked_sample["audit_report.pdf"]).split())
    section = text.split("Data and lineage")[-1].split("Input files")[0]  # [-1]: past the table of contents
    for name in ("sample-eval", "sample-train", "sample-finetune", "sample-val", "sample-base", "sample-pruned"):
        assert name in section, name
    assert "CC-BY-4.0" in section and "2025-01-01 to 2025-06-30" in section and "contract" in section
    assert "✓" in section and "matches the declared sha256" in section  # the evaluated file
    assert "✗" in section and "differs from the declared sha256" in section  # train.parquet
    assert "unavailable: file not found: finetune.parquet" in section
    assert "no local file (uri only)" in section
    assert "global magnitude pruning" in section and "amount = 0.55" in section
    assert "baseline" in section and "candidate" in section  # evaluated as
    rows = sample_evidence(slices=12).data.rows
    assert f"training 50,000 37 {37 / rows:.2%}" in section  # rows, overlap rows, overlap share
    assert "not compared: no local file" in section
    assert "email: 40 (5.0%); phone: 3 (0.4%)" in section and "x1" in section.split("Columns not scanned")[1]
    assert "No card file: the release names no card facts" in section
    assert "primary_uses, out_of_scope_uses" in section and "citation" in section
    assert "FGSM levels skipped: the models expose no input gradient" in text
    assert "computed from the first 5000 rows used" in text and "x0 1.500" in text
    html = blocked_sample["audit_report.html"].decode()
    assert html.count('<span class="better">✓</span>') == 1 and html.count('<span class="worse">✗</span>') == 1


def test_model_cards_list_the_declared_data_provenance(blocked_sample):
    md = blocked_sample["model_card.md"].decode()
    part = md.split("## Training and Evaluation Data Provenance")[1].split("## Quantitative Analyses")[0]
    assert "- **sample-eval** (evaluation, the evaluated data): license CC-BY-4.0; source: branch network" in part
    assert f"- **sample-finetune** (fine-tuning): license {MISSING}; source: call centre" in part
    assert "- FGSM levels skipped: the models expose no input gradient" in md
    html = blocked_sample["model_card.html"].decode()
    part = html.split("Training and evaluation data provenance")[1].split("Quantitative analyses")[0]
    assert "<b>sample-train</b> (training): license CC0-1.0; source: " in part and MISSING in part
    assert "FGSM levels skipped" in html


def test_evidence_without_data_sections_says_not_measured(checked):
    evidence = sample_evidence(slices=3)
    assert evidence.provenance is None and evidence.leakage is None and evidence.pii is None
    docs = render_all(RenderContext(evidence, sample_verdict(evidence)), ["audit_report.html", "model_card.md",
                                                                          "model_card.html"])
    html = docs["audit_report.html"].decode()
    for phrase in ("Not measured: data provenance", "Not measured: leakage", "Not measured: personal data",
                   "Not measured: documentation completeness"):
        assert phrase in html, phrase
    assert f"{MISSING} (the release names no provenance file)" in docs["model_card.md"].decode()
    assert f"{MISSING} (the release names no provenance file)" in docs["model_card.html"].decode()
    # a real check without a provenance file: the PDF says so, and still shows the sections it did measure
    text = " ".join(pdf_text((checked / "audit_report.pdf").read_bytes()).split())
    assert "Data and lineage" in text and "Not measured: data provenance" in text and "Not measured: leakage" in text
    measured = json.loads((checked / "evidence.json").read_text())
    assert ("Not measured: personal data" in text) == (measured.get("pii") is None)
    assert ("Not measured: documentation completeness" in text) == (measured.get("documentation") is None)


def test_slice_tables_carry_intervals_when_the_evidence_has_them(blocked_sample):
    html = blocked_sample["model_card.html"].decode()
    row = re.search(r"<td>segment-03.*?</tr>", html, re.S).group(0)
    assert row.count('class="ci"') == 3  # baseline, candidate and difference intervals
    assert "segment-01<span class=\"ci\">too few rows: not judged</span>" in html


def test_missing_card_facts_are_visible_in_every_document(checked):
    for name in ("model_card.md", "model_card.html", "audit_report.html"):
        assert MISSING in (checked / name).read_text(), name


def test_waivers_and_their_expiry_are_reported():
    evidence = sample_evidence(slices=3)
    verdict = sample_verdict(evidence, blocked=True)
    verdict = verdict.model_copy(update={"waivers": [
        {"rule": "PERF-001", "reason": "retraining is scheduled", "approved_by": "Dana (risk officer)",
         "expires": "2025-03-31", "scope": None, "state": "applied"},
        {"rule": "FAIR-001", "reason": "old exception", "approved_by": "Lee", "expires": "2024-12-31",
         "scope": ["segment=segment-01"], "state": "expired"}]})
    html = RENDERERS["audit_report.html"](RenderContext(evidence, verdict)).decode()
    waivers = html.split('<h2 id="waivers">Waivers</h2>')[1].split("<h2")[0]
    assert "Dana (risk officer)" in waivers and "2025-03-31" in waivers and "applied" in waivers
    assert "expired (ignored)" in waivers and "segment=segment-01" in waivers
    md = RENDERERS["model_card.md"](RenderContext(evidence, verdict)).decode()
    assert "PERF-001: approved by Dana (risk officer), expires 2025-03-31" in md


def test_coverage_table_lists_all_72_subcategories():
    from governance.rmf import subcategories

    evidence = sample_evidence(slices=3)
    html = RENDERERS["audit_report.html"](RenderContext(evidence, sample_verdict(evidence))).decode()
    coverage = html.split('<h2 id="coverage">NIST AI RMF coverage</h2>')[1].split("</table>")[0].split("<tbody>")[1]
    rows = {m.group(1): m.group(2) for m in re.finditer(r"<tr><th>(\w+)</th>(.*?)</tr>", coverage, re.S)}
    assert set(rows) == {"GOVERN", "MAP", "MEASURE", "MANAGE"}  # one compact row per function: fits one page
    for sid in subcategories():
        fn, _, num = sid.partition(" ")
        assert re.search(rf"(?<![\d.]){re.escape(num)}(?![\d.])", rows[fn]), sid
    assert "check 3 of the 72" in html and "other 69 need a human attestation" in html
    assert re.search(r'<b class="better">MEASURE [\d.]+</b> \(PERF-001', coverage)


# --- templates: autoescape, strictness, sandbox, overrides ------------------------------------------
def test_autoescape_covers_html_templates_but_not_markdown():
    assert autoescape("audit_report.html.j2") and autoescape("x.html")
    assert not autoescape("model_card.md.j2") and not autoescape("style.css")


def _render(checked: Path, out: Path, *extra: str) -> int:
    return main(["render", "--evidence", str(checked / "evidence.json"), "--verdict", str(checked / "verdict.json"),
                 "--out", str(out), *extra])


def test_user_template_overrides_by_file_name_and_runs_sandboxed_and_strict(checked, tmp_path, capsys):
    user = tmp_path / "tpl"
    user.mkdir()
    (user / "model_card.html.j2").write_text("{{ ''.__class__.__mro__[1].__subclasses__() }}")
    assert _render(checked, tmp_path / "a", "--templates", str(user)) == 2
    err = capsys.readouterr().err
    assert len(err.strip().splitlines()) == 1 and "model_card.html.j2" in err and "SecurityError" in err
    (user / "model_card.html.j2").write_text("<p>{{ release.name }}</p>\n<p>{{ no_such_variable }}</p>\n")
    assert _render(checked, tmp_path / "b", "--templates", str(user)) == 2
    err = capsys.readouterr().err
    assert "model_card.html.j2: line 2: " + TEMPLATE_ERROR.split(":")[0] in err and "no_such_variable" in err
    assert not (tmp_path / "b").exists()
    (user / "model_card.html.j2").write_text("{% extends 'nope.html.j2' %}{% block x %}{% endblock %}")
    assert _render(checked, tmp_path / "c", "--templates", str(user)) == 2
    assert "template not found: nope.html.j2" in capsys.readouterr().err


@pytest.mark.parametrize("mutation", ["{% set _ = blocking.clear() %}",
                                      "{% set _ = headline.update({'word': 'SHIP'}) %}",
                                      "{% for f in findings %}{% set _ = f.update({'status': 'pass'}) %}{% endfor %}",
                                      "{% set _ = findings.append(1) %}", "{% set _ = findings.pop() %}"])
def test_a_user_template_cannot_change_what_the_other_documents_render(checked, tmp_path, capsys, mutation):
    """The context is built once and shared: a model-card template that emptied ``blocking`` made the default audit
    report of a blocked release say SHIP."""
    user = tmp_path / "tpl"
    user.mkdir()
    (user / "model_card.md.j2").write_text("---\n{{ front_matter_yaml }}\n---\n" + mutation + "\n# {{ title }}\n")
    assert _render(checked, tmp_path / "out", "--templates", str(user)) == 2
    err = capsys.readouterr().err
    assert len(err.strip().splitlines()) == 1 and "model_card.md.j2" in err and "SecurityError" in err, err
    assert not (tmp_path / "out").exists()


def test_render_bad_inputs_exit_2_with_one_line(checked, tmp_path, capsys):
    cases = [
        (["--evidence", str(tmp_path / "missing.json")], "missing.json: file not found"),
        (["--evidence", str(checked / "verdict.json")], "not a valid evidence file"),
        (["--card", str(tmp_path / "nope.yaml")], CARD_NOT_FOUND.format(path=tmp_path / "nope.yaml")),
        (["--templates", str(tmp_path / "no-folder")], "--templates: not a folder of templates"),
    ]
    for extra, message in cases:
        argv = ["render", "--evidence", str(checked / "evidence.json"), "--verdict", str(checked / "verdict.json"),
                "--out", str(tmp_path / "out")]
        for flag, value in zip(extra[::2], extra[1::2]):
            if flag in argv:
                argv[argv.index(flag) + 1] = value
            else:
                argv += [flag, value]
        assert main(argv) == 2, extra
        err = capsys.readouterr().err
        assert len(err.strip().splitlines()) == 1 and message in err, err
    assert not (tmp_path / "out").exists()


def test_render_refuses_a_verdict_that_its_findings_or_its_evidence_contradict(checked, tmp_path, capsys):
    """Paperwork for a release nobody judged: a verdict.json edited to 'pass' over a blocking finding, or rendered
    with evidence it was not decided on, would print a PASS audit report. Both are exit 2, nothing written."""
    from governance.findings import DECISION_DISAGREES
    from governance.gate import NO_EVIDENCE_HASH, OTHER_EVIDENCE

    verdict = json.loads((checked / "verdict.json").read_text())
    block = next(i for i, f in enumerate(verdict["findings"]) if f["severity"] == "block")
    edited = {**verdict, "decision": "pass", "findings": [
        {**f, "status": "fail"} if i == block else f for i, f in enumerate(verdict["findings"])]}
    (tmp_path / "edited.json").write_text(json.dumps(edited))
    evidence = json.loads((checked / "evidence.json").read_text())
    evidence["release"]["version"] = "another"
    (tmp_path / "other.json").write_text(json.dumps(evidence))
    (tmp_path / "unhashed.json").write_text(json.dumps({**verdict, "inputs": {
        k: v for k, v in verdict["inputs"].items() if k != "evidence.json"}}))
    for extra, message in [
        (["--verdict", str(tmp_path / "edited.json")], DECISION_DISAGREES.format(decision="pass", given="blocked")),
        (["--evidence", str(tmp_path / "other.json")], "inputs.evidence.json: " + OTHER_EVIDENCE.split("{")[0]),
        # the hash deleted: another release's passing verdict rendered a SHIP report over blocked evidence
        (["--verdict", str(tmp_path / "unhashed.json")], "inputs.evidence.json: " + NO_EVIDENCE_HASH),
    ]:
        argv = ["render", "--evidence", str(checked / "evidence.json"), "--verdict", str(checked / "verdict.json"),
                "--out", str(tmp_path / "out")]
        argv[argv.index(extra[0]) + 1] = extra[1]
        assert main(argv) == 2, extra
        err = capsys.readouterr().err
        assert len(err.strip().splitlines()) == 1 and message in err, err
        assert not (tmp_path / "out").exists()
    assert _render(checked, tmp_path / "honest") == 0  # the pair as written renders


def test_check_refuses_a_missing_templates_folder_before_scoring(release_dir, tmp_path, capsys):
    code = main(["check", str(release_dir / "release.yaml"), "--out", str(tmp_path / "out"),
                 "--templates", str(tmp_path / "none")])
    assert code == 2 and "--templates: not a folder of templates" in capsys.readouterr().err


def test_rendering_does_not_import_weasyprint_until_a_pdf_is_made():
    code = ("import sys\nfrom governance.render import RENDERERS, RenderContext\n"
            "from governance.render.sample import sample_evidence, sample_verdict\n"
            "e = sample_evidence(3); ctx = RenderContext(e, sample_verdict(e))\n"
            "for n in ('model_card.md', 'model_card.html', 'audit_report.html'): RENDERERS[n](ctx)\n"
            "assert 'weasyprint' not in sys.modules, 'weasyprint imported eagerly'\n")
    done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True)
    assert done.returncode == 0, done.stderr


def test_front_matter_must_stay_a_mapping(checked, tmp_path, capsys):
    user = tmp_path / "tpl"
    user.mkdir()
    (user / "model_card.md.j2").write_text("---\n- a list\n---\n# card\n")
    assert _render(checked, tmp_path / "out", "--templates", str(user)) == 2
    assert "front matter" in capsys.readouterr().err
    (user / "model_card.md.j2").write_text("# a card without its metadata\n")  # rendered, exit 0, no metadata
    assert _render(checked, tmp_path / "out", "--templates", str(user)) == 2
    assert "does not start with YAML front matter" in capsys.readouterr().err


def test_card_facts_reach_the_context_unchanged():
    evidence = sample_evidence(slices=3)
    card = CardFacts.model_validate({"model_details": {"owners": "Risk team", "version": 2}})
    html = RENDERERS["model_card.html"](RenderContext(evidence, sample_verdict(evidence), card=card)).decode()
    assert "Risk team" in html and "<h1><span class=\"release-name\">sample-model 2</span></h1>" in html


def test_an_in_memory_verdict_of_another_release_is_refused():
    from governance.errors import InputError
    from governance.gate import OTHER_RELEASE, render

    evidence = sample_evidence(slices=3)
    verdict = sample_verdict(evidence)
    other = verdict.model_copy(update={"release": {**verdict.release, "version": "9.9"}})
    with pytest.raises(InputError) as exc:
        render(evidence, other)
    assert OTHER_RELEASE.split("{")[0] in str(exc.value) and "9.9" in str(exc.value)
    assert render(evidence, verdict).files  # its own renders


def test_card_text_cannot_open_a_markdown_block_a_link_or_an_image():
    """One card line of three backticks swallowed the rest of the Markdown card (results, findings, decision) into
    a code block; an image in the text made the card load a remote URL; a line break in the name ended the title."""
    from markdown_it import MarkdownIt

    evidence = sample_evidence(slices=3)
    verdict = sample_verdict(evidence)

    def tokens(card: dict) -> list:
        facts = CardFacts.model_validate(card)
        text = RENDERERS["model_card.md"](RenderContext(evidence, verdict, card=facts)).decode()
        body = text.split("\n---\n", 1)[1]  # after the front matter
        return MarkdownIt("commonmark").enable("table").parse(body)

    def kinds(toks: list) -> list[str]:
        inline = [c.type for t in toks if t.children for c in t.children]
        return [t.type for t in toks if t.type in ("fence", "code_block", "table_open", "heading_open",
                                                   "blockquote_open", "hr")] + \
            [k for k in inline if k in ("image", "link_open", "html_inline")]

    clean = kinds(tokens({"model_details": {"name": "credit", "description": "plain"},
                          "evaluation_data": {"description": "plain"}}))
    hostile = "para\n```\nrest\n~~~\n    indented code\n> quote\n# heading\n***\n![t](http://evil.example/t.png) " \
              "[x](javascript:alert(1)) <http://evil.example>"
    got = kinds(tokens({"model_details": {"name": "credit\n# second title", "description": hostile},
                        "evaluation_data": {"description": hostile}}))
    assert got == clean
    assert "table_open" in clean and "image" not in clean
