"""A Hugging Face dataset card for every shard set, so ``datasets`` loads it as it is.

The ``webdataset`` loader of ``datasets`` infers its columns from the first 5 samples: a set whose
samples differ in their members (JPEG and PNG images, an audio member on some samples) is refused
("the files in the archive don't share the same prefix or the same types") or loses the columns it
did not see. The toolkit never re-encodes an image to make members uniform; instead each set says
what its columns are:

- ``README.md`` beside ``manifest.json`` with ``configs`` (the tars) and ``dataset_info.features``:
  ``datasets.load_dataset(DIR)`` reads it;
- :func:`features` gives the same columns for ``load_dataset("webdataset", data_files=...,
  features=features(DIR))``.

Columns: one per member extension found in the set (from the manifest's per-shard ``members``);
image extensions are images, ``json`` is the sample header (annotation ``record`` and ``meta`` are
JSON strings), any other member (audio, text) is binary. A sample without a member gets ``None``.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

from pixmo.shards import IMAGE_EXTS, read_manifest

CARD = "README.md"
_STRING, _INT = {"dtype": "string"}, {"dtype": "int64"}
HEADER = [("image_sha256", _STRING), ("image_url", _STRING), ("width", _INT), ("height", _INT)]
ANNOTATION = [("subset", _STRING), ("record", _STRING), ("meta", _STRING)]


def member_extensions(manifest: dict[str, Any]) -> list[str] | None:
    """Member extensions of the set (images first, then json, then the rest), or None when a shard's
    entry predates the ``members`` field (``pixmo manifest rebuild`` adds it)."""
    exts: set[str] = set()
    for sh in manifest.get("shards", []):
        if not sh.get("members"):
            return None
        exts |= set(sh["members"])
    images = [e for e in IMAGE_EXTS if e in exts]
    rest = sorted(exts - set(images) - {"json"})
    return images + (["json"] if "json" in exts else []) + rest


def _yaml_features(exts: list[str]) -> str:
    lines = ["  features:"]
    for ext in exts:
        lines.append(f"  - name: '{ext}'")
        if ext in IMAGE_EXTS:
            lines.append("    dtype: image")
        elif ext == "json":
            lines.append("    struct:")
            lines += [f"    - name: {n}\n      dtype: {t['dtype']}" for n, t in HEADER]
            lines.append("    - name: annotations\n      list:")
            lines += [f"      - name: {n}\n        dtype: {t['dtype']}" for n, t in ANNOTATION]
        else:
            lines.append("    dtype: binary")
    return "\n".join(lines)


def card_text(manifest: dict[str, Any]) -> str | None:
    """The README.md of a set (YAML front matter for ``datasets``, then a short description)."""
    exts = member_extensions(manifest)
    if not exts:
        return None
    counts: dict[str, int] = {}
    for sh in manifest["shards"]:
        for subset, n in sh.get("annotations", {}).items():
            counts[subset] = counts.get(subset, 0) + n
    subsets = ", ".join(f"{s} ({n})" for s, n in sorted(counts.items())) or "none"
    return ("---\nconfigs:\n- config_name: default\n  data_files:\n"
            f"  - split: '{manifest.get('split', 'train')}'\n    path: '*.tar'\n"
            f"dataset_info:\n{_yaml_features(exts)}\n---\n"
            f"# {manifest.get('dataset', 'pixmo')}\n\n"
            f"WebDataset shards written by the PixMo toolkit: {manifest.get('num_samples', 0)} samples, "
            f"annotations {subsets}. `manifest.json` lists the shards with their sha256; each sample's "
            "`json` holds the image's sha256, URL, size and its annotations (`record` and `meta` are JSON "
            "strings in the published schema of `subset`).\n\n"
            "```python\nimport datasets\nds = datasets.load_dataset(\"path/to/this/dir\", split="
            f"\"{manifest.get('split', 'train')}\")\n```\n")


def write_card(out_dir: str | Path, manifest: dict[str, Any]) -> Path | None:
    """Write README.md for the set in ``out_dir`` (atomically); None when the manifest lacks members."""
    text = card_text(manifest)
    if text is None:
        return None
    path = Path(out_dir) / CARD
    tmp = path.with_name(CARD + ".tmp")
    tmp.write_text(text)
    tmp.replace(path)
    return path


def features(source: str | Path) -> Any:
    """``datasets.Features`` of the set at ``source`` for ``load_dataset("webdataset", features=...)``."""
    import datasets

    exts = member_extensions(read_manifest(source))
    if exts is None:
        raise ValueError(f"{source}: manifest has no member list; run `pixmo manifest rebuild {source}`")
    header: dict[str, Any] = {n: datasets.Value(t["dtype"]) for n, t in HEADER}
    header["annotations"] = [{n: datasets.Value(t["dtype"]) for n, t in ANNOTATION}]
    cols: dict[str, Any] = {}
    for ext in exts:
        cols[ext] = (datasets.Image() if ext in IMAGE_EXTS else header if ext == "json"
                     else datasets.Value("binary"))
    return datasets.Features(cols)
