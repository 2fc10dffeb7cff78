"""Hostile code paths: an architecture names only an nn.Module subclass in the release's folder (nothing runs
before that is known); user templates cannot read through symlinks, cannot run away in time or memory, and the
Markdown card carries no raw HTML."""

from __future__ import annotations

import os
import re
import sys
import textwrap
import time
from pathlib import Path

import numpy as np
import pyarrow as pa
import pytest
import yaml

from governance.card import MarkdownCard
from governance.cli import main
from governance.errors import InputError
from governance.manifest import ModelSpec
from governance.models import load_model
from governance.render import jsonfiles, templating
from governance.render.sample import sample_evidence, sample_verdict

torch = pytest.importorskip("torch")
safetensors_torch = pytest.importorskip("safetensors.torch")

NET = """
import torch

class Net(torch.nn.Sequential):
    def __init__(self, n_features=3, hidden=4):
        super().__init__(torch.nn.Linear(n_features, hidden), torch.nn.ReLU(), torch.nn.Linear(hidden, 2))

def build(n_features=3, hidden=4):
    return Net(n_features, hidden)

instance = Net()

class NotAModule:
    pass
"""


def _message(template: str) -> str:
    return max(re.split(r"\{[^}]*\}", template), key=len).strip()


def _release(folder: Path, module: str = "arch.py", marker: Path | None = None) -> Path:
    """A folder with an architecture module (``module``), its weights and a manifest path; returns the weights."""
    target = folder / module
    target.parent.mkdir(parents=True, exist_ok=True)
    code = NET if marker is None else NET + f"\nopen({str(marker)!r}, 'w').write('imported')\n"
    target.write_text(textwrap.dedent(code))
    torch.manual_seed(0)
    ns: dict = {}
    exec(compile(textwrap.dedent(NET), str(target), "exec"), ns)  # the same class, to save matching weights
    weights = folder / "net.safetensors"
    safetensors_torch.save_file(ns["Net"]().state_dict(), str(weights))
    return weights


def _load(folder: Path, architecture: str, **kw):
    weights = folder / "net.safetensors"
    spec = ModelSpec(path=weights.name, format="torch", architecture=architecture, **kw)
    return load_model(spec, weights, field="candidate", manifest=folder / "release.yaml")


# --------------------------------------------------------------------------- architecture: what may be named
def test_a_class_in_the_release_folder_loads_and_scores(tmp_path):
    _release(tmp_path)
    adapter = _load(tmp_path, "arch:Net")
    x = pa.table({"a": [0.1, 0.2], "b": [1.0, 2.0], "c": [3.0, 4.0]})
    proba = adapter.predict_proba(x, 0)
    assert proba.shape == (2, 2) and np.allclose(proba.sum(axis=1), 1.0)


def test_a_dotted_module_path_inside_the_folder_loads(tmp_path):
    _release(tmp_path, module="models/arch.py")
    assert _load(tmp_path, "models.arch:Net").describe()["parameters"] == 3 * 4 + 4 + 4 * 2 + 2


@pytest.mark.parametrize("architecture, kwargs", [
    ("subprocess:run", {"args": ["touch", "{marker}"]}),
    ("os:system", {}),
    ("builtins:eval", {}),
    ("json:loads", {}),          # the standard library
    ("numpy:ndarray", {}),       # site-packages
    ("governance.cli:main", {}),  # the gate itself
])
def test_anything_outside_the_release_folder_is_refused_before_it_runs(tmp_path, architecture, kwargs):
    from governance.models.torch_model import ARCH_NO_FILE

    _release(tmp_path)
    marker = tmp_path / "ran"
    kwargs = {k: [a.format(marker=marker) for a in v] for k, v in kwargs.items()}
    modules = set(sys.modules)
    with pytest.raises(InputError) as err:
        _load(tmp_path, architecture, architecture_kwargs=kwargs)
    assert err.value.field == "candidate.architecture" and _message(ARCH_NO_FILE) in err.value.message
    assert not marker.exists()
    assert not any(m.startswith("_governance_release_") for m in set(sys.modules) - modules)  # nothing imported


def test_the_cli_refuses_a_shell_command_as_architecture_with_one_line_and_no_output(tmp_path, capsys):
    weights = _release(tmp_path)
    marker = tmp_path / "pwned"
    (tmp_path / "eval.csv").write_text("a,b,c,label\n0.1,1,3,0\n0.2,2,4,1\n")
    model = {"path": weights.name, "format": "torch", "architecture": "subprocess:run",
             "architecture_kwargs": {"args": ["touch", str(marker)]}}
    (tmp_path / "release.yaml").write_text(yaml.safe_dump({
        "name": "hostile", "version": "1", "baseline": model, "candidate": model,
        "data": {"path": "eval.csv", "target": "label"}, "policy": "builtin:nist-ai-rmf"}))
    out = tmp_path / "out"
    assert main(["check", str(tmp_path / "release.yaml"), "--out", str(out)]) == 2
    err = capsys.readouterr().err.strip()
    assert len(err.splitlines()) == 1 and "architecture" in err and "subprocess" in err
    assert not marker.exists() and not (out / "verdict.json").exists()


@pytest.mark.parametrize("architecture, words", [
    ("arch:build", "is a function, not a class"),
    ("arch:instance", "is a Net, not a class"),
    ("arch:NotAModule", "not a torch.nn.Module subclass"),
    ("arch:Missing", "has no attribute 'Missing'"),
])
def test_the_named_object_must_be_an_nn_module_subclass(tmp_path, architecture, words):
    _release(tmp_path)
    with pytest.raises(InputError, match=re.escape(words)) as err:
        _load(tmp_path, architecture)
    assert err.value.field == "candidate.architecture"


@pytest.mark.parametrize("value", ["os.system", "arch:build()", "../arch:Net", "arch:Net.inner", "arch:", ":Net",
                                   "/tmp/arch:Net", "arch :Net"])
def test_a_malformed_architecture_is_refused_when_the_manifest_loads(value):
    with pytest.raises(ValueError, match="module:Class"):
        ModelSpec(path="m.safetensors", format="torch", architecture=value)
    assert ModelSpec(path="m.safetensors", format="torch", architecture="models.arch:Net").architecture


def test_a_symlinked_module_leaving_the_folder_is_refused_without_running_it(tmp_path):
    from governance.models.torch_model import ARCH_OUTSIDE

    release = tmp_path / "release"
    release.mkdir()
    _release(release)
    outside = tmp_path / "elsewhere"
    marker = tmp_path / "ran"
    _release(outside, marker=marker)
    (release / "arch.py").unlink()
    (release / "arch.py").symlink_to(outside / "arch.py")
    with pytest.raises(InputError) as err:
        _load(release, "arch:Net")
    assert _message(ARCH_OUTSIDE) in err.value.message and not marker.exists()
    # the twin: a symlink that stays inside the folder is followed
    (release / "arch.py").unlink()
    (release / "real.py").write_text(textwrap.dedent(NET))
    (release / "arch.py").symlink_to(release / "real.py")
    assert _load(release, "arch:Net").describe()["parameters"] == 26


def test_a_module_next_to_but_not_inside_the_folder_is_not_found(tmp_path):
    _release(tmp_path)  # arch.py in the parent of the manifest's folder
    sub = tmp_path / "sub"
    sub.mkdir()
    (sub / "net.safetensors").write_bytes((tmp_path / "net.safetensors").read_bytes())
    with pytest.raises(InputError, match="is not a file in the release's folder"):
        _load(sub, "arch:Net")


def test_two_releases_with_the_same_module_name_get_their_own_class(tmp_path):
    a, b = tmp_path / "a", tmp_path / "b"
    _release(a)
    _release(b)
    (b / "arch.py").write_text(textwrap.dedent(NET).replace("hidden=4", "hidden=5"))
    torch.manual_seed(0)
    ns: dict = {}
    exec(compile(textwrap.dedent(NET), "arch.py", "exec"), ns)
    safetensors_torch.save_file(ns["Net"](hidden=5).state_dict(), str(b / "net.safetensors"))
    assert _load(a, "arch:Net").describe()["parameters"] == 26
    assert _load(b, "arch:Net").describe()["parameters"] == 3 * 5 + 5 + 5 * 2 + 2
    assert "arch" not in sys.modules or not str(getattr(sys.modules["arch"], "__file__", "")).startswith(str(tmp_path))


# --------------------------------------------------------------------------- templates: what they may read
def _templates(tmp_path: Path, files: dict[str, str]) -> Path:
    folder = tmp_path / "tpl"
    folder.mkdir(exist_ok=True)
    for name, text in files.items():
        (folder / name).write_text(text)
    return folder


def test_an_include_through_a_symlink_leaving_the_folder_is_refused(tmp_path):
    secret = tmp_path / "secret.txt"
    secret.write_text("SECRET-do-not-leak")
    folder = _templates(tmp_path, {"page.md.j2": "start {% include 'partial.md.j2' %} end",
                                   "inside.md.j2": "{% include 'ok.md.j2' %}", "ok.md.j2": "fine"})
    (folder / "partial.md.j2").symlink_to(secret)
    with pytest.raises(InputError) as err:
        templating.render("page.md.j2", {}, folder)
    assert _message(templating.TEMPLATE_OUTSIDE) in err.value.message and "SECRET" not in str(err.value)
    assert err.value.file == str(folder / "partial.md.j2")
    # the twins: a real partial, and a symlink that stays inside the folder
    assert templating.render("inside.md.j2", {}, folder) == "fine"
    (folder / "partial.md.j2").unlink()
    (folder / "partial.md.j2").symlink_to(folder / "ok.md.j2")
    assert templating.render("page.md.j2", {}, folder) == "start fine end"


def test_a_symlinked_top_level_template_and_a_fifo_are_refused(tmp_path):
    secret = tmp_path / "secret.md"
    secret.write_text("SECRET")
    folder = _templates(tmp_path, {})
    (folder / "model_card.md.j2").symlink_to(secret)
    with pytest.raises(InputError, match="outside the template folder"):
        templating.render("model_card.md.j2", {}, folder)
    os.mkfifo(folder / "pipe.md.j2")
    started = time.monotonic()
    with pytest.raises(InputError, match=re.escape(_message(templating.TEMPLATE_NOT_FILE))):
        templating.render("pipe.md.j2", {}, folder)
    assert time.monotonic() - started < 5  # refused, not read (reading a FIFO would hang)


# --------------------------------------------------------------------------- templates: limits
@pytest.mark.parametrize("source, limit", [
    ("{{ range(200000) | list }}", templating.RANGE_LIMIT),
    ("{{ 'a' * 10**10 }}", templating.VALUE_LIMIT),
    ("{{ [1, 2] * 10**9 }}", templating.VALUE_LIMIT),
    ("{{ 'a'.ljust(10**10) }}", templating.VALUE_LIMIT),
    ("{{ 'a' | center(10**10) }}", templating.VALUE_LIMIT),
    ("{{ '{:>10000000000}'.format(1) }}", templating.VALUE_LIMIT),
    ("{{ '{:>{w}}'.format(1, w=10**10) }}", templating.VALUE_LIMIT),
    ("{{ '%10000000000d' % 1 }}", templating.VALUE_LIMIT),
    ("{{ 7 ** 100000000 }}", templating.POWER_LIMIT),
    ("{% set ns = namespace(s='ab') %}{% for i in range(60) %}{% set ns.s = ns.s ~ ns.s %}{% endfor %}{{ ns.s }}",
     templating.VALUE_LIMIT),
])
def test_runaway_templates_stop_fast_with_an_input_error_naming_the_template(tmp_path, source, limit):
    folder = _templates(tmp_path, {"bad.md.j2": source})
    started = time.monotonic()
    with pytest.raises(InputError) as err:
        templating.render("bad.md.j2", {}, folder)
    assert time.monotonic() - started < 5
    assert err.value.file.endswith("bad.md.j2") and _message(limit) in err.value.message


def test_modest_templates_within_the_limits_render(tmp_path):
    folder = _templates(tmp_path, {"ok.md.j2": "{{ range(1000) | list | length }} {{ 'ab' * 3 }} {{ 2 ** 64 }} "
                                               "{{ '{:>6}'.format(7) }} {{ '{:,}'.format(10**12) }} "
                                               "{{ 123456789012 | num }} {{ 'x' | center(5) }}|"})
    assert templating.render("ok.md.j2", {}, folder) == \
        "1000 ababab 18446744073709551616      7 1,000,000,000,000 123,456,789,012   x  |"


@pytest.mark.parametrize("source", [
    "{% for i in range(100000) %}{% for j in range(100000) %}{% endfor %}{% endfor %}",
    "{% set xs = range(100000) | list %}{% for i in xs %}{% for j in xs %}{% endfor %}{% endfor %}",
])
def test_a_render_that_never_ends_is_stopped_by_the_time_limit(tmp_path, monkeypatch, source):
    monkeypatch.setattr(templating, "RENDER_SECONDS", 0.5)
    folder = _templates(tmp_path, {"slow.md.j2": source})
    started = time.monotonic()
    with pytest.raises(InputError, match=re.escape("longer than 0.5 s")):
        templating.render("slow.md.j2", {}, folder)
    assert time.monotonic() - started < 4


def test_output_past_the_limit_is_stopped(tmp_path, monkeypatch):
    monkeypatch.setattr(templating, "MAX_OUTPUT_CHARS", 10_000)
    folder = _templates(tmp_path, {"big.md.j2": "{% for i in range(5000) %}{{ i }},{% endfor %}",
                                   "small.md.j2": "{% for i in range(100) %}{{ i }},{% endfor %}"})
    with pytest.raises(InputError, match="output limit"):
        templating.render("big.md.j2", {}, folder)
    assert templating.render("small.md.j2", {}, folder).count(",") == 100


def test_the_cli_reports_a_runaway_user_template_as_one_line_exit_2(tmp_path, capsys):
    folder = _templates(tmp_path, {"model_card.md.j2": "{{ 'a' * 10**10 }}"})
    evidence = sample_evidence(slices=2)
    (tmp_path / "evidence.json").write_bytes(jsonfiles.evidence_json(evidence))
    (tmp_path / "verdict.json").write_bytes(jsonfiles.verdict_json(sample_verdict(evidence)))
    code = main(["render", "--evidence", str(tmp_path / "evidence.json"), "--verdict", str(tmp_path / "verdict.json"),
                 "--templates", str(folder), "--out", str(tmp_path / "out")])
    err = capsys.readouterr().err.strip()
    assert code == 2 and len(err.splitlines()) == 1 and "model_card.md.j2" in err and "past the limit" in err


# --------------------------------------------------------------------------- the Markdown card carries no raw HTML
HOSTILE = ["<script>alert(1)</script>", "<img src=x onerror=alert(2)>"]


def _card_md(tmp_path: Path, facts: dict, **release: str) -> str:
    """model_card.md rendered from sample evidence and a real card.yaml (no PDF: only the Markdown is asked for)."""
    from governance.card import load_card
    from governance.render import RenderContext, documents

    evidence = sample_evidence(slices=2)
    evidence = evidence.model_copy(update={"release": {**evidence.release, **release}})
    card = tmp_path / "card.yaml"
    card.write_text(yaml.safe_dump(facts))
    ctx = RenderContext(evidence=evidence, verdict=sample_verdict(evidence), card=load_card(card))
    return documents.model_card_md(ctx).decode("utf-8")


def test_the_markdown_card_escapes_html_from_card_facts_and_the_release_name(tmp_path):
    text = _card_md(tmp_path, {
        "model_details": {"description": f"Fine model. {HOSTILE[0]}\n{HOSTILE[1]} second line",
                          "license": HOSTILE[1], "owners": [HOSTILE[0]]},
        "limitations": [HOSTILE[1]], "tags": [HOSTILE[0]]}, name=HOSTILE[0], version=HOSTILE[1])
    assert "<script" not in text and "<img" not in text
    assert "&lt;script&gt;alert(1)&lt;/script&gt;" in text and "&lt;img src=x onerror=alert(2)&gt;" in text
    parsed = MarkdownCard.loads(text)  # the front matter stays valid YAML and round-trips
    assert str(MarkdownCard.loads(str(parsed))) == str(parsed)
    assert HOSTILE[0] in parsed.data["tags"]  # the facts are kept, only written escaped


def test_an_honest_card_renders_its_facts_as_written(tmp_path):
    text = _card_md(tmp_path, {"model_details": {"description": "Scores R&D loans; 3 < 4 is kept as text."},
                               "limitations": ["Synthetic data only"], "tags": ["credit"]})
    assert "Scores R&D loans; 3 &lt; 4 is kept as text." in text and "- Synthetic data only" in text
    assert "credit" in MarkdownCard.loads(text).data["tags"] and "\n- credit\n" in text  # plain YAML, unescaped
