"""Writing a shard set without ever losing the one already there.

Every writer (``ShardWriter`` and the generator runner) builds its output in a staging directory
beside the target, ``.NAME.staging``, and only touches the target when the run succeeded:

- ``new`` (the default): the target must be absent or empty. A target that already holds a shard
  set is refused with one line (``ShardSetExists``), except when its manifest names the same
  dataset, split, config and seed: that is a rerun of the same command, handled like ``overwrite``.
- ``overwrite``: the old directory is renamed to ``.NAME.old``, the staging directory takes its
  name, and the old one is deleted. No stray shard of the old set survives.
- ``append``: new shards are numbered after the existing ones; they are moved in, then the extended
  manifest replaces the old one by rename. A journal (``.append-journal.json``) names the files being
  moved, so a run killed half way is undone by the next writer before it starts.

A run killed at any point (kill -9 included) leaves the target as it was: at worst a staging
directory, a ``.NAME.old`` directory or a journal, which the next writer cleans up or rolls back
(``recover``). ``rebuild_manifest`` makes a manifest from the tars alone.
"""

from __future__ import annotations

import json
import os
import shutil
from pathlib import Path
from typing import Any

from pixmo.shards import (
    MANIFEST,
    ShardError,
    ShardInfo,
    file_sha256,
    iter_raw,
    write_manifest,
)

WRITE_MODES = ("new", "overwrite", "append")
JOURNAL = ".append-journal.json"


class ShardSetExists(ShardError):
    """The output directory already holds data and the run did not say what to do with it."""


def write_mode(overwrite: bool = False, append: bool = False) -> str:
    """The write mode of the ``--overwrite`` / ``--append`` flags (at most one of them)."""
    if overwrite and append:
        raise ShardError("--overwrite and --append exclude each other: give one")
    return "overwrite" if overwrite else "append" if append else "new"


def staging_dir(out: str | Path) -> Path:
    out = Path(out).resolve()  # "." or "dir/" have a usable name once resolved
    return out.parent / f".{out.name}.staging"


def _old_dir(out: Path) -> Path:
    return out.parent / f".{out.name}.old"


def holds_set(d: Path) -> bool:
    return d.is_dir() and ((d / MANIFEST).exists() or any(d.glob("*.tar")))


def _read_json(p: Path) -> Any:
    try:
        return json.loads(p.read_text())
    except (OSError, json.JSONDecodeError):
        return None


def recover(out: str | Path) -> None:
    """Finish or roll back what a killed writer left: a half-done swap or a half-done append."""
    out = Path(out).resolve()
    old = _old_dir(out)
    if old.exists():
        if out.exists():  # the swap completed; only the old copy was not deleted yet
            shutil.rmtree(old)
        else:  # killed between the two renames: put the old set back
            os.replace(old, out)
    journal = out / JOURNAL
    if journal.exists():
        names = (_read_json(journal) or {}).get("files", [])
        listed = {sh["name"] for sh in (_read_json(out / MANIFEST) or {}).get("shards", [])}
        for name in names:
            if Path(name).name == name and name.endswith(".tar") and name not in listed:
                (out / name).unlink(missing_ok=True)
                (out / (name + ".stats.json")).unlink(missing_ok=True)
        journal.unlink()


def _same_run(manifest: dict[str, Any] | None, same_as: dict[str, Any] | None) -> bool:
    if manifest is None or same_as is None:
        return False
    norm = json.loads(json.dumps(same_as, default=str))
    return all(manifest.get(k) == norm.get(k) for k in ("dataset", "split", "config", "seed"))


class StagedSet:
    """The staging directory of one write into ``out`` and the commit that publishes it.

    ``same_as`` ({dataset, split, config, seed}) is what the run would write to the manifest;
    an existing set with the same values may be rewritten without ``overwrite`` (a rerun).
    With ``rerun_must_match=True`` such a rerun is published only when it wrote the same shards
    (sha256 for sha256); a rerun whose data changed (a re-export after new submissions, an edited
    input file) is refused at commit like any other set, and the existing set stays as it was.
    ``keep_staging=True`` keeps what a killed earlier run left in the staging directory
    (callers that can resume from it); otherwise it is cleared.
    """

    def __init__(self, out: str | Path, *, mode: str = "new", same_as: dict[str, Any] | None = None,
                 keep_staging: bool = False, rerun_must_match: bool = False):
        if mode not in WRITE_MODES:
            raise ShardError(f"unknown write mode {mode!r}; expected one of {', '.join(WRITE_MODES)}")
        self.out = Path(out).resolve()
        if self.out.exists() and not self.out.is_dir():
            raise ShardError(f"{self.out} is a file, not a shard directory")
        recover(self.out)
        self.dir = staging_dir(self.out)
        self.rerun = False  # the same command again: published only if it wrote the same shards
        self.manifest: dict[str, Any] | None = _read_json(self.out / MANIFEST) if self.out.is_dir() else None
        exists = holds_set(self.out)
        nonempty = self.out.is_dir() and any(self.out.iterdir())
        if mode == "append" and not exists:
            mode = "new"
        if mode == "new" and nonempty:
            if not (exists and _same_run(self.manifest, same_as)):
                what = "a shard set" if exists else "files"
                raise ShardSetExists(f"{self.out} already holds {what}; pass --overwrite to replace it or "
                                     f"--append to add to it")
            mode = "overwrite"
            self.rerun = rerun_must_match
        if mode == "append" and not isinstance(self.manifest, dict):
            raise ShardError(f"{self.out} holds shards but no readable {MANIFEST}; "
                             f"run `pixmo manifest rebuild {self.out}` first")
        self.mode = mode
        self.existing: list[ShardInfo] = (
            [ShardInfo(**sh) for sh in self.manifest["shards"]] if mode == "append" and self.manifest else [])
        if self.dir.exists() and not keep_staging:
            shutil.rmtree(self.dir)
        self.dir.mkdir(parents=True, exist_ok=True)

    @property
    def first_index(self) -> int:
        """The index of the first shard this run writes (after the existing ones when appending)."""
        return len(self.existing)

    def commit(self) -> Path:
        """Publish the staging directory (which must hold the manifest); returns the manifest path."""
        man = _read_json(self.dir / MANIFEST)
        if not isinstance(man, dict):
            raise ShardError(f"{self.dir}: no manifest was written; nothing to publish")
        if self.rerun and [sh["sha256"] for sh in man["shards"]] != \
                [sh.get("sha256") for sh in (self.manifest or {}).get("shards", [])]:
            self.abort()
            raise ShardSetExists(f"{self.out} already holds a set written by the same command, and this run's "
                                 "data differ from it; pass --overwrite to replace it or --append to add to it")
        listed = {sh["name"] for sh in man["shards"]}
        for p in self.dir.glob("*.tar"):  # shards of an earlier killed run that this run did not make
            if p.name not in listed:
                p.unlink()
                (self.dir / (p.name + ".stats.json")).unlink(missing_ok=True)
        _fsync_dir(self.dir)
        if self.mode == "append":
            self._commit_append()
        else:
            self._commit_swap()
        return self.out / MANIFEST

    def _commit_swap(self) -> None:
        old = _old_dir(self.out)
        if self.out.exists():
            if self.mode == "new":
                self.out.rmdir()  # empty (checked at the start)
            else:
                os.replace(self.out, old)
        os.replace(self.dir, self.out)
        _fsync_dir(self.out.parent)
        shutil.rmtree(old, ignore_errors=True)

    def _commit_append(self) -> None:
        moved = sorted(p.name for p in self.dir.iterdir() if p.name != MANIFEST and p.is_file())
        journal = self.out / JOURNAL
        tmp = journal.with_name(JOURNAL + ".tmp")
        tmp.write_text(json.dumps({"files": [n for n in moved if n.endswith(".tar")]}))
        os.replace(tmp, journal)
        for name in moved:
            os.replace(self.dir / name, self.out / name)
        os.replace(self.dir / MANIFEST, self.out / MANIFEST)
        journal.unlink()
        shutil.rmtree(self.dir, ignore_errors=True)

    def abort(self) -> None:
        """Drop the staging directory; the target is untouched."""
        shutil.rmtree(self.dir, ignore_errors=True)


def _fsync_dir(d: Path) -> None:
    try:
        fd = os.open(d, os.O_RDONLY)
    except OSError:
        return
    try:
        os.fsync(fd)
    except OSError:
        pass
    finally:
        os.close(fd)


def rebuild_manifest(directory: str | Path, *, dataset: str | None = None, split: str | None = None) -> Path:
    """Write ``manifest.json`` from the ``*.tar`` files of ``directory`` (sorted by name).

    Sizes, sha256 and sample/annotation counts come from the tars; dataset, split, config and seed
    are kept from an old manifest when one is readable, else taken from the arguments (dataset
    defaults to the directory name).
    """
    d = Path(directory)
    tars = sorted(d.glob("*.tar"))
    if not tars:
        raise ShardError(f"{d}: no .tar files to build a manifest from")
    old = _read_json(d / MANIFEST) or {}
    infos = [_tar_info(p) for p in tars]
    return write_manifest(d, infos, dataset=dataset or old.get("dataset") or d.name,
                          split=split or old.get("split") or "train", config=old.get("config") or {},
                          seed=old.get("seed"))


def _tar_info(path: Path) -> ShardInfo:
    samples, counts, exts = 0, dict[str, int](), dict[str, int]()
    for key, members in iter_raw(str(path)):
        samples += 1
        for ext in members:
            exts[ext] = exts.get(ext, 0) + 1
        try:
            head = json.loads(members.get("json", b"{}"))
        except (json.JSONDecodeError, UnicodeDecodeError):
            raise ShardError(f"{path.name}: sample {key} has an unreadable {key}.json") from None
        for a in head.get("annotations", []) if isinstance(head, dict) else []:
            subset = a.get("subset") if isinstance(a, dict) else None
            if isinstance(subset, str):
                counts[subset] = counts.get(subset, 0) + 1
    return ShardInfo(path.name, samples, dict(sorted(counts.items())), file_sha256(path), path.stat().st_size,
                     dict(sorted(exts.items())))
