"""The data verbs: ls, merge (dedup by image hash), filter, split, sample."""

from __future__ import annotations

from pixmo.cli import main
from pixmo.shards import iter_samples, read_manifest, write_samples
from pixmo.validate import validate_dir
from pixmo.verbs import split_of
from tests.pixmo.conftest import make_samples


def _set(tmp, name, n, start=0):
    write_samples(tmp / name, make_samples(n, start=start), dataset=name, max_count=3)
    return tmp / name


def test_ls_lists_every_key_with_its_subsets(tmp_path, capsys):
    src = _set(tmp_path, "a", 4)
    assert main(["ls", str(src)]) == 0
    lines = capsys.readouterr().out.strip().splitlines()
    assert [ln.split("\t")[0] for ln in lines] == [s.key for s in iter_samples(src)]
    assert "pixmo-points:2" in lines[0] and "png 64x48" in lines[0]


def test_merge_keeps_each_image_once_with_the_annotations_of_all_sets(tmp_path):
    a, b = _set(tmp_path, "a", 4), _set(tmp_path, "b", 4, start=2)  # images 2 and 3 are in both
    assert main(["merge", str(a), str(b), "--out", str(tmp_path / "m")]) == 0
    merged = {s.key: s for s in iter_samples(tmp_path / "m")}
    assert len(merged) == 6 and validate_dir(tmp_path / "m").ok
    one = {s.key: len(s.annotations) for s in iter_samples(a)}
    for k, n in one.items():  # identical annotations from both sets are kept once
        assert len(merged[k].annotations) == n


def test_filter_keeps_matching_annotations_and_drops_empty_samples(tmp_path):
    src = _set(tmp_path, "a", 3)
    assert main(["filter", str(src), "--out", str(tmp_path / "f"), "--subset", "pixmo-points",
                 "--where", "label=dog"]) == 0
    got = list(iter_samples(tmp_path / "f"))
    assert len(got) == 3 and all([a.subset for a in s.annotations] == ["pixmo-points"] for s in got)
    assert all(a.record.label == "dog" for s in got for a in s.annotations)
    assert main(["filter", str(src), "--out", str(tmp_path / "g"), "--where", "label=unicorn"]) == 0
    assert read_manifest(tmp_path / "g")["num_samples"] == 0


def test_split_by_image_hash_is_deterministic_and_complete(tmp_path):
    src = _set(tmp_path, "a", 9)
    assert main(["split", str(src), "--out", str(tmp_path / "s"), "--fractions", "train=0.5,test=0.5"]) == 0
    train = {s.key for s in iter_samples(tmp_path / "s" / "train")}
    test = {s.key for s in iter_samples(tmp_path / "s" / "test")}
    assert train | test == {s.key for s in iter_samples(src)} and not train & test
    assert all(split_of(k, {"train": 0.5, "test": 0.5}) == "train" for k in train)
    assert main(["split", str(src), "--out", str(tmp_path / "t"), "--fractions", "train=0.5"]) == 2


def test_sample_takes_num_distinct_images(tmp_path):
    src = _set(tmp_path, "a", 10)
    assert main(["sample", str(src), "--out", str(tmp_path / "x"), "--num", "4", "--seed", "3"]) == 0
    keys = [s.key for s in iter_samples(tmp_path / "x")]
    assert len(set(keys)) == 4 and set(keys) <= {s.key for s in iter_samples(src)}
