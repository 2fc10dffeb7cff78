"""The tamper-evident audit trail: hashes of every input and output, an Ed25519 signature, and verify.

``checksums.json`` lists the sha256 of every output file; ``verdict.json`` records the sha256 of
evidence.json and of the policy, manifest, card and provenance files. ``verdict.sig`` signs
``checksums.json`` (and so, through it, every output and every recorded input hash).
"""

from __future__ import annotations

import hashlib
import json
from pathlib import Path

from .errors import InputError
from .evidence.schema import Evidence, FileRef
from .findings import Verdict
from .hashing import sha256_file

CHECKSUMS = "checksums.json"
SIGNATURE = "verdict.sig"


def recorded_inputs(evidence_json: bytes, files: dict[str, Path | None]) -> dict[str, object]:
    """What verdict.json records: evidence.json's hash and each named input with its absolute path and hash."""
    out: dict[str, object] = {"evidence.json": hashlib.sha256(evidence_json).hexdigest()}
    for name, path in files.items():
        if path is not None:
            p = path.resolve()
            out[name] = FileRef(path=str(p), sha256=sha256_file(p), bytes=p.stat().st_size).model_dump()
    return out


def checksums(files: dict[str, bytes]) -> bytes:
    listing = {name: hashlib.sha256(content).hexdigest() for name, content in sorted(files.items())}
    return json.dumps({"algorithm": "sha256", "files": listing}, indent=2).encode() + b"\n"


def _load_key(path: Path, private: bool):
    from cryptography.hazmat.primitives import serialization
    from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey, Ed25519PublicKey

    field = "--sign-key" if private else "--public-key"
    try:
        data = path.read_bytes()
    except OSError as exc:
        raise InputError(path, field, f"cannot read key: {exc.strerror or exc}") from None
    try:
        key = (serialization.load_pem_private_key(data, password=None) if private
               else serialization.load_pem_public_key(data))
    except (ValueError, TypeError) as exc:
        raise InputError(path, field, f"not a PEM {'private' if private else 'public'} key without password: "
                                      f"{exc}") from None
    wanted = Ed25519PrivateKey if private else Ed25519PublicKey
    if not isinstance(key, wanted):
        raise InputError(path, field, "not an Ed25519 key (make one with `governance keygen KEY.pem`)")
    return key


def sign(payload: bytes, key_path: Path) -> bytes:
    return _load_key(key_path, private=True).sign(payload)


def keygen(path: Path) -> tuple[Path, Path]:
    """Write an Ed25519 private key (PEM, 0600) and its public key next to it (``.pub.pem``)."""
    from cryptography.hazmat.primitives import serialization
    from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey

    from .outputs import write_all

    key = Ed25519PrivateKey.generate()
    private = key.private_bytes(serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8,
                                serialization.NoEncryption())
    public = key.public_key().public_bytes(serialization.Encoding.PEM,
                                           serialization.PublicFormat.SubjectPublicKeyInfo)
    pub_name = path.name.removesuffix(".pem") + ".pub.pem"
    write_all(path.parent, {path.name: private, pub_name: public})
    path.chmod(0o600)
    return path, path.parent / pub_name


def verify(out_dir: Path, public_key: Path | None = None) -> tuple[list[str], list[str]]:
    """(problems, checked): every changed, missing or unlisted file is a problem naming it."""
    problems: list[str] = []
    checked: list[str] = []
    listing_path = out_dir / CHECKSUMS
    if not out_dir.is_dir():
        raise InputError(out_dir, None, "not a folder")
    if not listing_path.is_file():
        raise InputError(listing_path, None, "missing: this folder was not written by `governance check`")
    listing_bytes = listing_path.read_bytes()
    try:
        listed: dict[str, str] = json.loads(listing_bytes)["files"]
    except (ValueError, KeyError, TypeError):
        return [f"{CHECKSUMS}: unreadable (changed)"], checked
    for name, digest in listed.items():
        p = out_dir / name
        if not p.is_file():
            problems.append(f"{name}: missing")
        elif sha256_file(p) != digest:
            problems.append(f"{name}: changed since it was written")
        checked.append(name)
    for p in sorted(out_dir.iterdir()):
        if p.is_file() and p.name not in listed and p.name not in (CHECKSUMS, SIGNATURE):
            problems.append(f"{p.name}: not listed in {CHECKSUMS}")
    problems += _verify_inputs(out_dir, checked)
    sig_path = out_dir / SIGNATURE
    if public_key is not None:
        if not sig_path.is_file():
            problems.append(f"{SIGNATURE}: missing, but a public key was given")
        else:
            from cryptography.exceptions import InvalidSignature

            try:
                _load_key(public_key, private=False).verify(sig_path.read_bytes(), listing_bytes)
                checked.append(f"{SIGNATURE} (Ed25519)")
            except InvalidSignature:
                problems.append(f"{SIGNATURE}: signature does not match {CHECKSUMS} and this public key")
    elif sig_path.is_file():
        checked.append(f"{SIGNATURE} present (pass --public-key to check it)")
    return problems, checked


def _verify_inputs(out_dir: Path, checked: list[str]) -> list[str]:
    """The inputs recorded in verdict.json and evidence.json still hash to what was evaluated."""
    problems = []
    try:
        verdict = Verdict.model_validate_json((out_dir / "verdict.json").read_bytes())
        evidence_bytes = (out_dir / "evidence.json").read_bytes()
        evidence = Evidence.model_validate_json(evidence_bytes)
    except (OSError, ValueError) as exc:
        return [f"verdict.json / evidence.json: unreadable ({exc.__class__.__name__})"]
    recorded = verdict.inputs
    if recorded.get("evidence.json") and recorded["evidence.json"] != hashlib.sha256(evidence_bytes).hexdigest():
        problems.append("evidence.json: does not match the hash recorded in verdict.json")
    refs = {name: FileRef(**ref) for name, ref in recorded.items() if isinstance(ref, dict)}
    manifest = refs.get("manifest")
    base = Path(manifest.path).parent if manifest else None
    for name, ref in evidence.inputs.items():
        if name != "manifest" and base is not None:
            refs.setdefault(name, FileRef(path=str(base / ref.path), sha256=ref.sha256, bytes=ref.bytes))
    for name, ref in refs.items():
        p = Path(ref.path)
        if not p.is_file():
            problems.append(f"{name} ({p}): missing")
        elif sha256_file(p) != ref.sha256:
            problems.append(f"{name} ({p}): changed since it was evaluated")
        checked.append(f"{name} ({p})")
    return problems
