"""Outputs: the whole set is swapped in at once (SIGKILL at any moment leaves the old complete set or the new one),
the folder is the gate's (foreign files are never deleted), one run per --out (a lock), and ``verify`` covers every
input the decision depended on and says when the signature was not checked."""

from __future__ import annotations

import fcntl
import json
import os
import random
import shutil
import signal
import subprocess
import sys
import textwrap
import time
from pathlib import Path

import pytest
import yaml
from conftest import POLICY, write_yaml

from governance.cli import main
from governance.hashing import sha256_file
from governance.outputs import FOREIGN, LOCKED, lock_path, output_lock, publish
from governance.trail import SIGNATURE_NOT_CHECKED, SIGNATURE_PRESENT_UNCHECKED, policy_parents

ROOT = Path(__file__).resolve().parents[1]
FAST = {"bootstrap": {"resamples": 0}, "latency": None, "robustness": None}


def run(capsys, *argv) -> tuple[int, str, str]:
    code = main([str(a) for a in argv])
    out, err = capsys.readouterr()
    return code, out, err


def siblings(out: Path) -> list[str]:
    """What a run leaves next to --out: staging folders, old sets, the lock file (none once it is done)."""
    return sorted(p.name for p in out.parent.iterdir() if p.name.startswith(f".{out.name}."))


@pytest.fixture(scope="module")
def gated(release_dir, tmp_path_factory):
    """One signed check of a release whose policy extends another file and whose provenance names a training
    file: (release folder, output folder, private key, public key)."""
    d = tmp_path_factory.mktemp("atomic") / "rel"
    shutil.copytree(release_dir, d)
    write_yaml(d / "base-policy.yaml", POLICY)
    write_yaml(d / "policy.yaml", {"name": "team", "extends": "base-policy.yaml", "rules": []})
    shutil.copy(d / "eval.csv", d / "train.csv")
    write_yaml(d / "provenance.yaml", {"datasets": {"train": {"role": "training", "path": "train.csv"}},
                                       "models": {"lr": {"sha256": sha256_file(d / "baseline.skops")}}})
    manifest = yaml.safe_load((d / "release.yaml").read_text())
    write_yaml(d / "release.yaml", {**manifest, "evaluation": FAST, "provenance": "provenance.yaml"})
    key = d.parent / "k.pem"
    assert main(["keygen", str(key)]) == 0
    out = d.parent / "out"
    out.mkdir()  # an empty folder is fine: it holds nothing to lose
    code = main(["check", str(d / "release.yaml"), "--out", str(out), "--sign-key", str(key), "--quiet"])
    assert code in (0, 1)
    return d, out, key, d.parent / "k.pub.pem"


def copy_of(out: Path, dest: Path) -> Path:
    shutil.copytree(out, dest)
    return dest


# --- the folder is replaced as a whole ---------------------------------------------------------------
def test_a_locked_out_is_refused_then_an_unsigned_rerun_drops_the_stale_signature(gated, tmp_path, capsys):
    rel, signed, _, _ = gated
    out = copy_of(signed, tmp_path / "out")
    before = {p.name: p.read_bytes() for p in out.iterdir()}
    argv = ["evaluate", "--evidence", signed / "evidence.json", "--policy", rel / "policy.yaml", "--out", out]
    lock = lock_path(out)
    fd = os.open(lock, os.O_RDWR | os.O_CREAT)
    fcntl.flock(fd, fcntl.LOCK_EX)  # another run holds the folder
    try:
        code, _, err = run(capsys, *argv)
    finally:
        os.close(fd)
    assert code == 2 and LOCKED.format(out=out) in err and len(err.strip().splitlines()) == 1
    assert {p.name: p.read_bytes() for p in out.iterdir()} == before
    lock.unlink()

    code, _, err = run(capsys, *argv)  # the passing twin: nobody else holds it
    assert code in (0, 1), err
    assert "verdict.sig" in before and not (out / "verdict.sig").exists()
    assert siblings(out) == []
    code, stdout, err = run(capsys, "verify", out)
    assert code == 0, err
    assert stdout.strip().endswith(SIGNATURE_NOT_CHECKED)


def test_a_folder_the_gate_did_not_write_is_refused_and_left_alone(gated, tmp_path, capsys):
    rel, signed, _, _ = gated
    foreign = tmp_path / "mine"
    foreign.mkdir()
    (foreign / "notes.txt").write_text("my notes")
    argv = ["evaluate", "--evidence", signed / "evidence.json", "--policy", rel / "policy.yaml", "--out"]
    code, _, err = run(capsys, *argv, foreign)
    assert code == 2 and FOREIGN in err
    assert [p.name for p in foreign.iterdir()] == ["notes.txt"]
    out = copy_of(signed, tmp_path / "out")
    (out / "sub").mkdir()
    (out / "sub" / "mine.txt").write_text("x")
    code, _, err = run(capsys, *argv, out)
    assert code == 2 and "sub/mine.txt" in err and "never deletes files it did not write" in err
    assert (out / "sub" / "mine.txt").read_text() == "x"
    assert siblings(out) == [] and siblings(foreign) == []


def test_a_checksums_json_naming_someones_files_or_an_edited_output_is_refused(gated, tmp_path, capsys):
    """Any checksums.json was trusted: one naming notes.txt and thesis.pdf (bogus hashes) made the gate delete them."""
    rel, signed, _, _ = gated
    argv = ["evaluate", "--evidence", signed / "evidence.json", "--policy", rel / "policy.yaml", "--out"]
    fake = tmp_path / "fake"
    fake.mkdir()
    (fake / "notes.txt").write_text("my notes")
    (fake / "checksums.json").write_text(json.dumps({"files": {"notes.txt": "x", "thesis.pdf": "y"}}))
    code, _, err = run(capsys, *argv, fake)
    assert code == 2 and "notes.txt" in err and "never deletes files it did not write" in err
    assert (fake / "notes.txt").read_text() == "my notes"
    out = copy_of(signed, tmp_path / "out")
    (out / "model_card.md").write_text("edited by hand")
    code, _, err = run(capsys, *argv, out)
    assert code == 2 and "model_card.md" in err and (out / "model_card.md").read_text() == "edited by hand"
    assert run(capsys, *argv, copy_of(signed, tmp_path / "again"))[0] in (0, 1)  # an untouched set is replaced


def test_folders_named_like_the_gates_temporaries_are_left_alone(gated, tmp_path, capsys):
    """A user's ``.out.old-backup01`` and ``.out.new-drafts01`` matched the pattern of a killed run's leftovers: they
    were deleted, or renamed to OUT when OUT did not exist."""
    rel, signed, _, _ = gated
    argv = ["evaluate", "--evidence", signed / "evidence.json", "--policy", rel / "policy.yaml", "--out"]
    for name in (".out.old-backup01", ".out.new-drafts01", ".tgt.old-abcdefgh"):
        (tmp_path / name).mkdir()
        (tmp_path / name / "mine.txt").write_text(name)
    assert run(capsys, *argv, copy_of(signed, tmp_path / "out"))[0] in (0, 1)
    assert run(capsys, *argv, tmp_path / "tgt")[0] in (0, 1)
    for name in (".out.old-backup01", ".out.new-drafts01", ".tgt.old-abcdefgh"):
        assert (tmp_path / name / "mine.txt").read_text() == name
    assert (tmp_path / "tgt" / "verdict.json").is_file() and not (tmp_path / "tgt" / "mine.txt").exists()


def test_bad_input_writes_nothing_and_leaves_no_lock_or_folder(gated, tmp_path, capsys):
    rel, signed, _, _ = gated
    out = tmp_path / "new" / "deeper" / "out"
    code, _, err = run(capsys, "check", rel / "release.yaml", "--out", out, "--policy", tmp_path / "nope.yaml")
    assert code == 2 and "nope.yaml" in err
    assert not (tmp_path / "new").exists()  # the folders made for the lock file are taken back
    existing = copy_of(signed, tmp_path / "existing")
    before = {p.name: p.read_bytes() for p in existing.iterdir()}
    code, _, _ = run(capsys, "check", rel / "release.yaml", "--out", existing, "--policy", tmp_path / "nope.yaml")
    assert code == 2 and {p.name: p.read_bytes() for p in existing.iterdir()} == before
    assert siblings(existing) == []


# --- SIGKILL at any moment -----------------------------------------------------------------------------
LOOP = textwrap.dedent("""
    import hashlib, json, sys
    from pathlib import Path
    from governance import outputs
    if sys.argv[2] == "fallback":
        outputs._exchange = lambda a, b: False  # the two-rename path of systems without RENAME_EXCHANGE
    out = Path(sys.argv[1])
    for generation in range(1, 10**6):
        files = {f"part{i}.bin": bytes([generation % 256]) * (256 << 10) + str(generation).encode()
                 for i in range(6)}
        files["checksums.json"] = json.dumps({"files": {n: hashlib.sha256(c).hexdigest()
                                                        for n, c in files.items()}}).encode()
        outputs.publish(out, files)
        print(generation, flush=True)
""")


def complete_set(out: Path) -> int:
    """The generation of a complete, self-consistent set in ``out`` (fails on a mix or a stray file)."""
    listing = json.loads((out / "checksums.json").read_bytes())["files"]
    assert sorted(p.name for p in out.iterdir()) == sorted([*listing, "checksums.json"])
    for name, digest in listing.items():
        assert sha256_file(out / name) == digest, name
    generations = {(out / n).read_bytes()[256 << 10:] for n in listing}
    assert len(generations) == 1, generations
    return int(generations.pop())


@pytest.mark.parametrize("mode", ["exchange", "fallback"])
def test_sigkill_while_publishing_leaves_the_old_or_the_new_complete_set(tmp_path, mode):
    out = tmp_path / "out"
    rng = random.Random(9)
    script = tmp_path / "loop.py"
    script.write_text(LOOP)
    for _ in range(5):
        proc = subprocess.Popen([sys.executable, str(script), str(out), mode], stdout=subprocess.PIPE, text=True,
                                cwd=ROOT)
        assert proc.stdout is not None
        assert proc.stdout.readline().strip()  # one complete set written: from now on, kill at any moment
        time.sleep(rng.uniform(0.0, 0.25))
        proc.send_signal(signal.SIGKILL)
        proc.wait()
        # a reader finds a complete set, or (two-rename path only, killed between the renames) the old set
        # beside a missing folder; the next run, holding the lock, puts that back before anything else
        if not out.exists():
            assert mode == "fallback" and any(".old-" in s for s in siblings(out))
        with output_lock(out):
            pass
        assert complete_set(out) >= 1
        assert siblings(out) == []  # nothing stray once a run has held the lock


def test_sigkill_of_a_real_run_in_its_writing_phase(gated, tmp_path):
    """``governance evaluate`` is killed the moment its staging folder appears (mid-write or mid-swap)."""
    rel, signed, _, _ = gated
    out = copy_of(signed, tmp_path / "out")
    argv = [sys.executable, "-m", "governance", "evaluate", "--evidence", str(signed / "evidence.json"),
            "--policy", str(rel / "policy.yaml"), "--out", str(out), "--quiet"]
    proc = subprocess.Popen(argv, cwd=ROOT, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    deadline = time.monotonic() + 240
    while not any(".new-" in s for s in siblings(out)):
        assert proc.poll() is None, "the run finished without a staging folder"
        assert time.monotonic() < deadline
        time.sleep(0.001)
    proc.send_signal(signal.SIGKILL)
    proc.wait()
    names = sorted(p.name for p in signed.iterdir())
    assert sorted(p.name for p in out.iterdir()) in (names, [n for n in names if n != "verdict.sig"])
    assert main(["verify", str(out)]) == 0  # old (signed) set or new (unsigned) set: complete either way
    with output_lock(out):
        pass
    assert siblings(out) == []


# --- verify covers every input -------------------------------------------------------------------------
def test_verify_covers_parent_policies_training_data_and_subfolders(gated, tmp_path, capsys):
    rel, signed, _, public = gated
    recorded = json.loads((signed / "verdict.json").read_text())["inputs"]
    assert recorded["policy.extends[1]"]["path"] == str(rel / "base-policy.yaml")
    assert recorded["dataset:train"]["sha256"] == sha256_file(rel / "train.csv")
    code, stdout, _ = run(capsys, "verify", signed)
    assert code == 0 and stdout.strip().endswith(SIGNATURE_PRESENT_UNCHECKED)
    code, stdout, _ = run(capsys, "verify", signed, "--public-key", public)
    assert code == 0 and "signature holds" in stdout
    for name in ("base-policy.yaml", "train.csv"):
        original = (rel / name).read_bytes()
        try:
            (rel / name).write_bytes(original + b"\n")
            code, _, err = run(capsys, "verify", signed)
            assert code == 1 and f"{name}): changed since it was evaluated" in err
        finally:
            (rel / name).write_bytes(original)
    out = copy_of(signed, tmp_path / "out")
    (out / "extra").mkdir()
    (out / "extra" / "planted.html").write_text("<p>not from the gate</p>")
    code, _, err = run(capsys, "verify", out)
    assert code == 1 and "extra/planted.html: not listed in checksums.json" in err


def test_a_builtin_parent_pack_is_recorded_with_its_file(tmp_path):
    write_yaml(tmp_path / "team.yaml", {"name": "team", "extends": "builtin:nist-ai-rmf", "rules": []})
    parents = policy_parents(tmp_path / "team.yaml")
    assert list(parents) == ["policy.extends[1]"] and parents["policy.extends[1]"].name == "nist-ai-rmf.yaml"
    write_yaml(tmp_path / "plain.yaml", POLICY)
    assert policy_parents(tmp_path / "plain.yaml") == {}


def test_verify_covers_the_torch_architecture_file(tmp_path, capsys):
    pytest.importorskip("torch")
    d = tmp_path / "torch-mlp"
    shutil.copytree(ROOT / "examples" / "torch-mlp", d)
    manifest = yaml.safe_load((d / "release.yaml").read_text())
    write_yaml(d / "release.yaml", {**manifest, "evaluation": FAST})
    out = tmp_path / "out"
    code, _, err = run(capsys, "check", d / "release.yaml", "--out", out, "--quiet")
    assert code in (0, 1), err
    assert json.loads((out / "verdict.json").read_text())["inputs"]["candidate.architecture"]["path"] == \
        str(d / "arch.py")
    assert run(capsys, "verify", out)[0] == 0
    with open(d / "arch.py", "a") as fh:
        fh.write("\n# changed after the gate ran\n")
    code, _, err = run(capsys, "verify", out)
    assert code == 1 and "baseline.architecture" in err and "arch.py): changed since it was evaluated" in err


def test_publish_refuses_names_that_are_not_plain_files(tmp_path):
    with pytest.raises(ValueError):
        publish(tmp_path / "out", {"../escape.txt": b"x"})
    assert not (tmp_path / "out").exists() and siblings(tmp_path / "out") == []
