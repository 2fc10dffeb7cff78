"""The tamper-evident audit trail: hashes of every input and output, an Ed25519 signature, and verify.

``checksums.json`` lists the sha256 of every output file; ``verdict.json`` records the sha256 of
evidence.json and of every input the decision depended on: the policy and each policy it ``extends:`` (builtin
packs too), the manifest, card, provenance and waivers files, the torch architecture files, and the datasets the
provenance names (training data used for leakage). evidence.json holds the data and model files' hashes.
``verdict.sig`` signs ``checksums.json`` (and so, through it, every output and every recorded input hash).
"""

from __future__ import annotations

import hashlib
import json
import os
from pathlib import Path

from .errors import InputError
from .evidence.schema import Evidence, FileRef
from .findings import Verdict
from .hashing import check_input_file, sha256_file

CHECKSUMS = "checksums.json"
SIGNATURE = "verdict.sig"
SIGNATURE_HOLDS = "and the signature holds"
SIGNATURE_NOT_CHECKED = "signature not checked (no --public-key)"
SIGNATURE_PRESENT_UNCHECKED = "verdict.sig present but NOT checked (pass --public-key to check it)"
SIGNATURE_FAILS = "the signature does NOT hold"
#: what `verify` reports (templates: format with the names shown)
OUTPUT_CHANGED = "{name}: changed since it was written"
NOT_LISTED = "{path}: not listed in " + CHECKSUMS
SIGNATURE_MISMATCH = f"{SIGNATURE}: signature does not match {CHECKSUMS} and this public key"
INPUT_CHANGED = "{name} ({path}): changed since it was evaluated"
_MAX_EXTENDS = 32  # a longer chain was refused when the policy was loaded; never loop here


def recorded_inputs(evidence_json: bytes, files: dict[str, Path | FileRef | None]) -> dict[str, object]:
    """What verdict.json records: evidence.json's hash and each named input with its absolute path and hash
    (a ``FileRef`` is recorded as given: a file already hashed at collection is not read twice)."""
    out: dict[str, object] = {"evidence.json": hashlib.sha256(evidence_json).hexdigest()}
    for name, path in files.items():
        if isinstance(path, FileRef):
            out[name] = path.model_dump()
        elif path is not None:
            p = path.resolve()
            out[name] = FileRef(path=str(p), sha256=sha256_file(p), bytes=p.stat().st_size).model_dump()
    return out


def policy_parents(policy_path: Path) -> dict[str, Path]:
    """``policy.extends[1]`` (the parent), ``[2]`` (its parent), ...: every file whose rules the policy inherits."""
    from .policy import resolve_policy_ref
    from .yamlfile import read_yaml

    out: dict[str, Path] = {}
    path, seen = policy_path, {policy_path.resolve()}
    for depth in range(1, _MAX_EXTENDS + 1):
        try:
            data, _ = read_yaml(path)
            ref = data.get("extends") if isinstance(data, dict) else None
            if not isinstance(ref, str) or not ref:
                break
            path = resolve_policy_ref(ref, path.parent, path, "extends")
        except InputError:
            break  # the policy loaded, so this cannot happen; record what was found
        if path.resolve() in seen:
            break
        seen.add(path.resolve())
        out[f"policy.extends[{depth}]"] = path
    return out


def release_inputs(release, evidence: Evidence) -> dict[str, Path | FileRef]:
    """Inputs of a release beyond the manifest's own files: the torch architecture files that were imported, and
    the datasets the provenance names (hashed at collection: leakage compared the evaluation data with them)."""
    out: dict[str, Path | FileRef] = {}
    for role in ("baseline", "candidate"):
        spec = getattr(release.manifest, role)
        if spec.architecture:
            try:
                from .models.torch_model import architecture_file

                out[f"{role}.architecture"] = architecture_file(spec.architecture, manifest=release.path, field=role)
            except (ImportError, InputError):
                continue  # the model loaded, so its file was found; nothing else to record
    if evidence.provenance is not None:
        for name, ref in evidence.provenance.files.items():
            p = Path(ref.path)
            out[f"dataset:{name}"] = FileRef(path=str(p if p.is_absolute() else release.folder / p), sha256=ref.sha256,
                                             bytes=ref.bytes)
    return out


def checksums(files: dict[str, bytes]) -> bytes:
    listing = {name: hashlib.sha256(content).hexdigest() for name, content in sorted(files.items())}
    return json.dumps({"algorithm": "sha256", "files": listing}, indent=2).encode() + b"\n"


def _load_key(path: Path, private: bool):
    from cryptography.hazmat.primitives import serialization
    from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey, Ed25519PublicKey

    field = "--sign-key" if private else "--public-key"
    check_input_file(path, named_in=None, field=field, root=None)  # never a FIFO or device
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


#: keygen would replace a key (a signing key replaced cannot sign for the verifiers that hold its public key)
KEY_EXISTS = "exists: keygen never replaces a key (pass --force to replace it, after moving the old one away)"
#: the private key's name is the one its public key would get
KEY_NAMED_PUBLIC = "a private key named like a public key (.pub.pem): name it e.g. release-key.pem"


def keygen(path: Path, force: bool = False) -> tuple[Path, Path]:
    """Write an Ed25519 private key (PEM, 0600 from creation) and its public key next to it (``.pub.pem``); an
    existing key file is replaced only with ``force`` (a second keygen silently replaced the signing key)."""
    from cryptography.hazmat.primitives import serialization
    from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey

    from .outputs import write_files

    pub_name = path.name.removesuffix(".pem") + ".pub.pem"
    if path.name.endswith(".pub.pem"):
        raise InputError(path, None, KEY_NAMED_PUBLIC)
    existing = [p for p in (path, path.parent / pub_name) if os.path.lexists(p)]
    if existing and not force:
        raise InputError(existing[0], None, KEY_EXISTS)
    key = Ed25519PrivateKey.generate()
    private = key.private_bytes(serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8,
                                serialization.NoEncryption())
    public = key.public_key().public_bytes(serialization.Encoding.PEM,
                                           serialization.PublicFormat.SubjectPublicKeyInfo)
    write_files(path.parent, {path.name: private, pub_name: public}, modes={path.name: 0o600})
    return path, path.parent / pub_name


def _plain(p: Path) -> bool:
    """A regular file that is not a symlink (a FIFO or device planted in the folder is never opened)."""
    return not p.is_symlink() and p.is_file()


def verify(out_dir: Path, public_key: Path | None = None) -> tuple[list[str], list[str], str]:
    """(problems, checked, signature): every changed, missing or unlisted file is a problem naming it, anywhere
    under ``out_dir`` (subfolders too); ``signature`` says whether verdict.sig was checked (one of the
    ``SIGNATURE_*`` phrases)."""
    problems: list[str] = []
    checked: list[str] = []
    listing_path = out_dir / CHECKSUMS
    if not out_dir.is_dir():
        raise InputError(out_dir, None, "not a folder")
    if not _plain(listing_path):
        raise InputError(listing_path, None, "missing: this folder was not written by `governance check`")
    if public_key is not None:
        _load_key(public_key, private=False)  # a bad key is bad input before anything is reported
    listing_bytes = listing_path.read_bytes()
    try:
        listed: dict[str, str] = json.loads(listing_bytes)["files"]
        if not isinstance(listed, dict):
            raise TypeError
    except (ValueError, KeyError, TypeError):
        return ([f"{CHECKSUMS}: unreadable (changed)"], checked,
                SIGNATURE_FAILS if public_key is not None else SIGNATURE_NOT_CHECKED)
    for name, digest in listed.items():
        p = out_dir / name
        if "/" in name or "\\" in name or name in ("", ".", ".."):
            problems.append(f"{name}: not a file name the gate writes (changed)")
        elif not _plain(p):
            problems.append(f"{name}: missing" if not p.exists() and not p.is_symlink() else
                            f"{name}: not a regular file (changed)")
        elif sha256_file(p) != digest:
            problems.append(OUTPUT_CHANGED.format(name=name))
        checked.append(name)
    for p in sorted(out_dir.rglob("*")):
        rel = p.relative_to(out_dir).as_posix()
        if rel in listed or rel in (CHECKSUMS, SIGNATURE):
            continue
        if p.is_dir() and not p.is_symlink():
            if next(p.iterdir(), None) is None:
                problems.append(f"{rel}/: a folder not written by the gate")
            continue  # its files are reported one by one
        problems.append(NOT_LISTED.format(path=rel))
    problems += _verify_inputs(out_dir, checked)
    sig_path = out_dir / SIGNATURE
    signature = SIGNATURE_NOT_CHECKED
    if public_key is not None:
        if not _plain(sig_path):
            problems.append(f"{SIGNATURE}: missing, but a public key was given")
            signature = SIGNATURE_FAILS
        else:
            from cryptography.exceptions import InvalidSignature

            try:
                _load_key(public_key, private=False).verify(sig_path.read_bytes(), listing_bytes)
                checked.append(f"{SIGNATURE} (Ed25519)")
                signature = SIGNATURE_HOLDS
            except InvalidSignature:
                problems.append(SIGNATURE_MISMATCH)
                signature = SIGNATURE_FAILS
    elif sig_path.exists() or sig_path.is_symlink():
        signature = SIGNATURE_PRESENT_UNCHECKED
    return problems, checked, signature


def _changed(path: Path, sha256: str) -> bool:
    """The file's (or data folder's) hash differs; a data folder that no longer lists as one (a file that is not
    Parquet added, every file removed) has changed too."""
    try:
        return sha256_file(path) != sha256
    except InputError:
        return True


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
    refs: dict[str, FileRef] = {}
    for name, ref in recorded.items():
        if isinstance(ref, dict):
            try:
                refs[name] = FileRef(**ref)
            except ValueError:  # pydantic's ValidationError: an entry edited into something else
                problems.append(f"verdict.json: inputs.{name} is not a file record (changed)")
    manifest = refs.get("manifest")
    base = Path(manifest.path).parent if manifest else None
    for name, ref in evidence.inputs.items():
        if name != "manifest" and base is not None:
            refs.setdefault(name, FileRef(path=str(base / ref.path), sha256=ref.sha256, bytes=ref.bytes))
    if evidence.provenance is not None and base is not None:  # verdicts written before datasets were recorded
        for name, ref in evidence.provenance.files.items():
            p = Path(ref.path)
            refs.setdefault(f"dataset:{name}", FileRef(path=str(p if p.is_absolute() else base / p),
                                                       sha256=ref.sha256, bytes=ref.bytes))
    for name, ref in refs.items():
        p = Path(ref.path)
        if not (p.is_file() or p.is_dir()):  # a FIFO or device: reported, never opened (a folder: a Parquet dataset)
            problems.append(f"{name} ({p}): missing")
        elif _changed(p, ref.sha256):
            problems.append(INPUT_CHANGED.format(name=name, path=p))
        checked.append(f"{name} ({p})")
    return problems
