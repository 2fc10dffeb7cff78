"""WeasyPrint must not be a way out: a template or a card field that names a local file or a URL leaks
nothing into the PDF and makes no request. Only data: URIs and files inside the template folders load."""

from __future__ import annotations

import base64
import io
import threading
import warnings
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import pytest
import yaml

from governance.cli import main
from governance.render import jsonfiles
from governance.render.pdf import RefusedURLWarning, safe_fetcher
from governance.render.sample import sample_evidence, sample_verdict

SECRET = "SECRET-7f3a-do-not-leak"


@pytest.fixture()
def server():
    """A tiny HTTP server on loopback that records every request it receives."""
    seen: list[str] = []

    class Handler(BaseHTTPRequestHandler):
        def do_GET(self):
            seen.append(self.path)
            self.send_response(200)
            self.send_header("Content-Type", "text/css")
            self.end_headers()
            self.wfile.write(f"body::after {{ content: '{SECRET}' }}".encode())

        def log_message(self, *args):
            pass

    httpd = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    thread = threading.Thread(target=httpd.serve_forever, daemon=True)
    thread.start()
    yield f"http://127.0.0.1:{httpd.server_address[1]}", seen
    httpd.shutdown()
    httpd.server_close()
    thread.join()


def embedded_files(reader) -> list[bytes]:
    """Every file embedded in a PDF: the document's attachments and the pages' file-attachment annotations."""
    found = [data for values in reader.attachments.values() for data in values]
    for page in reader.pages:
        for annot in page.get("/Annots") or []:
            annot = annot.get_object()
            if annot.get("/Subtype") == "/FileAttachment":
                found.append(annot["/FS"].get_object()["/EF"]["/F"].get_object().get_data())
    return found


def test_hostile_template_and_card_leak_nothing_and_fetch_nothing(tmp_path, server, capsys):
    from pypdf import PdfReader

    url, seen = server
    secret = tmp_path / "secret.txt"
    secret.write_text(SECRET)
    tpl = tmp_path / "tpl"
    tpl.mkdir()
    (tpl / "notes.txt").write_text("allowed attachment inside the template folder")
    (tpl / "link.txt").symlink_to(secret)  # inside the folder by name, outside once resolved
    pixel = base64.b64encode(b'<svg xmlns="http://www.w3.org/2000/svg" width="4" height="4"/>').decode()
    (tpl / "audit_report.html.j2").write_text(f"""<!DOCTYPE html>
<html><head><meta charset="utf-8">
<link rel="stylesheet" href="{url}/style.css">
<link rel="attachment" href="file://{secret}">
<link rel="attachment" href="link.txt">
<style>@import url("{url}/import.css"); body {{ background: url("file://{secret}"); }}</style>
</head><body>
<h1>{{{{ release.name }}}}: {{{{ decision }}}}</h1>
<img src="{url}/pixel.png">
<img src="../secret.txt">
<a rel="attachment" href="{{{{ card.model_details.references[0] }}}}">reference</a>
<img src="{{{{ card.model_details.references[1] }}}}">
<img src="data:image/svg+xml;base64,{pixel}">
<link rel="attachment" href="notes.txt">
<a rel="attachment" href="notes.txt">notes</a>
{{% for f in findings %}}<p>{{{{ f.rule_id }}}}</p>{{% endfor %}}
</body></html>
""")
    card = tmp_path / "card.yaml"
    card.write_text(yaml.safe_dump({"model_details": {"references": [f"file://{secret}", f"{url}/card.png"]}}))
    evidence = sample_evidence(slices=3)
    (tmp_path / "evidence.json").write_bytes(jsonfiles.evidence_json(evidence))
    (tmp_path / "verdict.json").write_bytes(jsonfiles.verdict_json(sample_verdict(evidence)))

    code = main(["render", "--evidence", str(tmp_path / "evidence.json"), "--verdict", str(tmp_path / "verdict.json"),
                 "--card", str(card), "--templates", str(tpl), "--out", str(tmp_path / "out")])
    err = capsys.readouterr().err
    assert code == 0, err

    assert seen == []  # no request reached the server
    refused = [line for line in err.splitlines() if "refused to fetch" in line]
    assert len(refused) == len(err.strip().splitlines())  # one stderr line per refusal, nothing else
    for needle in (f"{url}/style.css", f"{url}/import.css", f"{url}/pixel.png", f"{url}/card.png",
                   f"file://{secret}", "link.txt", "secret.txt"):
        assert any(needle in line for line in refused), needle

    pdf = (tmp_path / "out" / "audit_report.pdf").read_bytes()
    reader = PdfReader(io.BytesIO(pdf))
    files = embedded_files(reader)
    assert files == [b"allowed attachment inside the template folder"] * 2  # the allowed ones, and only them
    text = "\n".join(p.extract_text() for p in reader.pages)
    assert "sample-model: pass" in text and "PERF-001" in text
    assert SECRET not in text and SECRET.encode() not in pdf


def test_fetcher_allows_data_uris_and_template_files_only(tmp_path):
    root = tmp_path / "tpl"
    root.mkdir()
    (root / "ok.css").write_text("p {}")
    (tmp_path / "outside.css").write_text("p {}")
    (root / "escape.css").symlink_to(tmp_path / "outside.css")
    fetcher = safe_fetcher([root])
    assert fetcher.fetch((root / "ok.css").as_uri()).read() == b"p {}"
    assert fetcher.fetch("data:text/plain;base64,aGk=").read() == b"hi"
    refused = [(tmp_path / "outside.css").as_uri(), (root / "escape.css").as_uri(), root.as_uri() + "/../outside.css",
               "file:///etc/passwd", "http://127.0.0.1:1/x", "https://example.com/x", "ftp://127.0.0.1/x",
               "gopher://127.0.0.1/x"]
    for url in refused:
        with warnings.catch_warnings(record=True) as caught:
            warnings.simplefilter("always")
            with pytest.raises(ValueError, match="refused to fetch"):
                fetcher.fetch(url)
        assert [w.category for w in caught] == [RefusedURLWarning], url
    assert fetcher.refused == refused
