"""seqkit.modelfile: the `.npz` + JSON metadata model files every trainer writes, and what refuses bad ones."""

from __future__ import annotations

import json
import zipfile

import numpy as np
import pytest

from seqkit import modelfile
from seqkit.errors import DataError


def write(path, meta, arrays):
    modelfile.save(str(path), meta, arrays)
    return str(path)


def test_round_trip_and_recognition_by_content(tmp_path):
    arrays = {"param/w": np.arange(6, dtype=np.float32).reshape(2, 3), "opt/m": np.ones(3, np.float32)}
    path = write(tmp_path / "model-without-suffix", {"format": "seqkit-x", "version": 2, "n": 5}, arrays)
    assert modelfile.read_metadata(path)["n"] == 5
    assert modelfile.sniff(path, "seqkit-x") and not modelfile.sniff(path, "seqkit-y")
    with modelfile.Archive(path, "seqkit-x", versions=(1, 2)) as archive:
        assert archive.array("param/w", [2, 3]).tolist() == [[0, 1, 2], [3, 4, 5]]
        assert archive.group("opt")["m"].tolist() == [1, 1, 1] and archive.group("none") == {}
    assert list(tmp_path.iterdir()) == [tmp_path / "model-without-suffix"]  # no temporary file left


def test_metadata_must_name_format_and_version(tmp_path):
    with pytest.raises(ValueError):
        modelfile.save(str(tmp_path / "m.npz"), {"format": "x"}, {})
    assert not (tmp_path / "m.npz").exists()


@pytest.mark.parametrize("fmt,versions,message", [
    ("seqkit-y", (1,), "format is 'seqkit-x', expected 'seqkit-y'"),
    ("seqkit-x", (2, 3), "model file version 1 is not supported (this seqkit reads 2, 3)"),
])
def test_the_wrong_format_or_version_is_named(tmp_path, fmt, versions, message):
    path = write(tmp_path / "m.npz", {"format": "seqkit-x", "version": 1}, {"a": np.zeros(1)})
    with pytest.raises(DataError) as info:
        modelfile.Archive(path, fmt, versions)
    assert message in info.value.format_message() and path in info.value.format_message()


def test_entries_are_checked_before_they_are_read(tmp_path):
    path = write(tmp_path / "m.npz", {"format": "f", "version": 1}, {"w": np.zeros((2, 2), np.float32)})
    with modelfile.Archive(path, "f", (1,)) as archive:
        with pytest.raises(DataError, match=r"entry w claims shape \[100000, 100000\], more than seqkit will allocate"):
            archive.array("w", [100_000, 100_000])
        with pytest.raises(DataError, match=r"entry w is \[2, 2\] float32, expected \[2, 3\] float32"):
            archive.array("w", [2, 3])
        with pytest.raises(DataError, match=r"entry w is \[2, 2\] float32, expected \[2, 2\] int64"):
            archive.array("w", [2, 2], np.int64)
        with pytest.raises(DataError, match="entry v is missing"):
            archive.array("v", [1])
        with pytest.raises(DataError, match="not a list of sizes"):
            archive.array("w", "2x2")


def damaged_files(tmp_path):
    good = write(tmp_path / "good.npz", {"format": "f", "version": 1}, {"w": np.zeros(4, np.float32)})
    data = open(good, "rb").read()
    cases = {"truncated": data[: len(data) // 2], "text": b"hello\n", "empty": b""}
    for name, content in cases.items():
        (tmp_path / name).write_bytes(content)
    no_meta = tmp_path / "no-meta"
    np.savez(open(no_meta, "wb"), w=np.zeros(1))
    bad_json = tmp_path / "bad-json"
    np.savez(open(bad_json, "wb"), meta=np.frombuffer(b"{not json", dtype=np.uint8))
    a_list = tmp_path / "a-list"
    np.savez(open(a_list, "wb"), meta=np.frombuffer(json.dumps(["f", 1]).encode(), dtype=np.uint8))
    _damage_meta_header(good, tmp_path / "bad-header")
    return [tmp_path / n for n in [*cases, "no-meta", "bad-json", "a-list", "bad-header"]]


def _damage_meta_header(source, target, entry: str = "meta.npy") -> None:
    """A copy of `source` whose `entry` header has `{{` in its padding: NumPy's header parser (Python's
    tokenizer) then raises TokenError, which is neither OSError nor ValueError."""
    with zipfile.ZipFile(source) as archive:
        entries = {name: archive.read(name) for name in archive.namelist()}
    header = entries[entry]
    end = header.index(b"}") + 1
    assert header[end + 1:end + 3] == b"  "
    entries[entry] = header[:end + 1] + b"{{" + header[end + 3:]
    with zipfile.ZipFile(target, "w") as archive:
        for name, data in entries.items():
            archive.writestr(name, data)


@pytest.mark.parametrize("mapped", [False, True])
def test_a_damaged_data_entry_header_is_a_data_error_naming_it(tmp_path, mapped):
    good = write(tmp_path / "good.npz", {"format": "f", "version": 1}, {"w": np.zeros(4, np.float32)})
    _damage_meta_header(good, tmp_path / "bad.npz", "w.npy")
    with modelfile.Archive(str(tmp_path / "bad.npz"), "f", (1,)) as model:
        with pytest.raises(DataError, match="entry w"):
            model.array("w", [4], mapped=mapped)


def test_a_damaged_metadata_header_is_one_line_naming_it(tmp_path, cli_run):
    good = write(tmp_path / "good.npz", {"format": "f", "version": 1}, {"w": np.zeros(4, np.float32)})
    _damage_meta_header(good, tmp_path / "bad.npz")
    assert modelfile.describe_file(str(tmp_path / "bad.npz")).endswith("whose metadata entry is damaged")
    for command in (["predict", "-m", tmp_path / "bad.npz", "-"], ["perplexity", "-m", tmp_path / "bad.npz", "-"]):
        result = cli_run(*command, input="x\n")
        assert result.exit_code == 1 and len(result.stderr.splitlines()) == 1, result.stderr
        assert "metadata entry is damaged" in result.stderr and "warning" not in result.stderr


def test_damaged_files_are_one_clear_error_and_never_sniffed(tmp_path):
    for path in damaged_files(tmp_path):
        assert not modelfile.sniff(str(path), "f")
        for read in (lambda: modelfile.read_metadata(str(path)), lambda: modelfile.Archive(str(path), "f", (1,))):
            with pytest.raises(DataError) as info:
                read()
            message = info.value.format_message()
            assert str(path) in message and "\n" not in message


def test_an_oversized_group_entry_is_refused(tmp_path, monkeypatch):
    path = write(tmp_path / "m.npz", {"format": "f", "version": 1}, {"opt/big": np.zeros(64, np.float64)})
    monkeypatch.setattr(modelfile, "MAX_ELEMENTS", 8)  # 64 float64 = 512 bytes > 8 * 8
    with modelfile.Archive(path, "f", (1,)) as archive:
        with pytest.raises(DataError, match="entry opt/big is larger than seqkit will read"):
            archive.group("opt")


def test_describe_file_names_what_it_sees(tmp_path):
    cases = {"kenlm": b"mmap lm http://kheafield.com/code format version 5\n", "empty": b"",
             "fasttext": (793712314).to_bytes(4, "little"), "text": b"the first line\nsecond\n",
             "binary": b"\xff\xfe\x00\x01", "nul": b"{\x00\x00\x00\x0c\x00"}
    for name, content in cases.items():
        (tmp_path / name).write_bytes(content)
    assert modelfile.describe_file(str(tmp_path / "kenlm")).startswith("a KenLM binary model")
    assert modelfile.describe_file(str(tmp_path / "fasttext")) == "a fastText model (.bin)"
    assert modelfile.describe_file(str(tmp_path / "text")) == "text starting 'the first line'"
    assert modelfile.describe_file(str(tmp_path / "empty")) == "an empty file"
    assert modelfile.describe_file(str(tmp_path / "binary")) == "a binary file of unknown kind (first bytes ff fe 00 01)"
    assert modelfile.describe_file(str(tmp_path / "nul")).startswith("a binary file of unknown kind")  # UTF-8, not text
    with zipfile.ZipFile(tmp_path / "z.npz", "w") as archive:
        archive.writestr("param.npy", b"x")
        archive.writestr("meta.npy", b"y")
    assert modelfile.describe_file(str(tmp_path / "z.npz")) == "a zip archive (.npz) holding param, meta"
    other = write(tmp_path / "ctc.npz", {"format": "seqkit-ctc", "version": 1}, {"w": np.zeros(2, np.float32)})
    assert modelfile.describe_file(other) == "a zip archive (.npz) holding a seqkit-ctc model"  # named by its format


def test_mapped_entries_are_views_of_the_file_that_never_write_it(tmp_path):
    arrays = {"w": np.arange(12, dtype=np.float32).reshape(3, 4), "ids": np.arange(5, dtype=np.int64),
              "none": np.zeros((0, 3), np.float32), "odd": np.arange(3, dtype=np.int32)}
    path = write(tmp_path / "m.npz", {"format": "f", "version": 1}, arrays)
    loaded = dict(np.load(path))  # still a plain .npz
    with modelfile.Archive(path, "f", (1,)) as archive:
        mapped = {name: archive.array(name, list(a.shape), a.dtype, mapped=True) for name, a in arrays.items()}
    for name, array in arrays.items():
        assert np.array_equal(loaded[name], array) and np.array_equal(mapped[name], array)
        assert mapped[name].dtype == array.dtype and mapped[name].flags.aligned and mapped[name].flags.writeable
    assert mapped["w"].ctypes.data % 64 == 0  # data aligned in the file, so the map is used, not a copy
    mapped["w"][0, 0] = 99.0  # copy-on-write: the process sees it, the file does not
    assert mapped["w"][0, 0] == 99.0 and np.load(path)["w"][0, 0] == 0.0
    again = write(tmp_path / "again.npz", {"format": "f", "version": 1}, arrays)
    assert open(again, "rb").read() == open(path, "rb").read()  # same arrays, same bytes


def test_numpy_savez_files_still_load_mapped(tmp_path):
    path = tmp_path / "old.npz"
    w = np.arange(10, dtype=np.float32).reshape(2, 5)
    np.savez(path, meta=np.frombuffer(json.dumps({"format": "f", "version": 1}).encode(), dtype=np.uint8), w=w)
    with modelfile.Archive(str(path), "f", (1,)) as archive:
        got = archive.array("w", [2, 5], mapped=True)
        with pytest.raises(DataError, match=r"entry w is \[2, 5\] float32, expected \[5, 2\] float32"):
            archive.array("w", [5, 2], mapped=True)
    assert np.array_equal(got, w) and got.flags.aligned and got.flags.writeable
    compressed = tmp_path / "compressed.npz"
    np.savez_compressed(compressed, meta=np.frombuffer(json.dumps({"format": "f", "version": 1}).encode(),
                                                       dtype=np.uint8), w=w)
    with modelfile.Archive(str(compressed), "f", (1,)) as archive:
        assert np.array_equal(archive.array("w", [2, 5], mapped=True), w)


def test_a_mapped_entry_cut_short_is_refused(tmp_path):
    path = write(tmp_path / "m.npz", {"format": "f", "version": 1}, {"w": np.ones((64, 64), np.float32)})
    archive = modelfile.Archive(path, "f", (1,))  # the zip directory is read now, then the file is cut
    data = open(path, "rb").read()
    start = data.index(b"\x93NUMPY")
    open(path, "wb").write(data[:start + 1000])
    with pytest.raises(DataError, match="entry w runs past the end of the file"):
        archive.array("w", [64, 64], mapped=True)
    archive.close()


@pytest.mark.parametrize("mapped", [True, False])
def test_a_changed_byte_in_an_entry_is_refused_mapped_or_read(tmp_path, mapped):
    weights = np.arange(4096, dtype=np.float32)
    path = write(tmp_path / "m.npz", {"format": "seqkit-x", "version": 1, "history": [{"epoch": 1, "seconds": 2.5}]},
                 {"param/w": weights, "opt/m": weights})
    assert modelfile.read_metadata(path)["history"] == [{"epoch": 1}]  # no timings: the same run, the same bytes
    data = bytearray(open(path, "rb").read())
    info = zipfile.ZipFile(path).getinfo("param/w.npy" if mapped else "opt/m.npy")
    at = info.header_offset + 30 + len(info.filename) + len(info.extra) + 1000
    data[at] ^= 0xFF
    open(path, "wb").write(bytes(data))
    with modelfile.Archive(path, "seqkit-x", versions=(1,)) as archive:
        with pytest.raises(DataError, match="damaged"):
            if mapped:
                archive.array("param/w", [4096], mapped=True)
            else:
                archive.group("opt")


@pytest.mark.parametrize("content,says", [(b"hello world\n", "text starting 'hello world'"), (b"", "an empty file")])
def test_a_file_that_is_no_archive_is_described_not_read_as_a_pickle(tmp_path, content, says):
    path = tmp_path / "m.npz"
    path.write_bytes(content)
    with pytest.raises(DataError) as caught:
        modelfile.Archive(str(path), "seqkit-x", versions=(1,))
    assert f"{says}, not a seqkit-x model" in str(caught.value) and "pickle" not in str(caught.value)


def test_read_metadata_of_a_file_that_is_no_archive_describes_it(tmp_path):
    path = tmp_path / "lm.arpa"
    path.write_text("\\data\\\nngram 1=2\n")
    with pytest.raises(DataError, match=r"text starting '\\\\data\\\\', not a seqkit model file"):
        modelfile.read_metadata(str(path))


def test_a_missing_model_file_is_named(tmp_path):
    with pytest.raises(DataError, match="nope.npz: no such file"):
        modelfile.Archive(str(tmp_path / "nope.npz"), "seqkit-x", versions=(1,))


def test_an_entry_whose_array_header_claims_more_than_it_holds_is_refused_before_reading(tmp_path):
    """A header edited to claim 10^9 rows would make numpy allocate gigabytes before finding the data short."""
    path = write(tmp_path / "m.npz", {"format": "seqkit-x", "version": 1}, {"param/w": np.ones((4, 3), np.float32)})
    with zipfile.ZipFile(path) as archive:
        entries = {name: archive.read(name) for name in archive.namelist()}
    header = entries["param/w.npy"]
    entries["param/w.npy"] = header.replace(b"'shape': (4, 3)", b"'shape': (400000000, 3)").replace(
        b" " * 8 + b"\n", b"\n", 1)
    assert len(entries["param/w.npy"]) == len(header)
    with zipfile.ZipFile(path, "w") as archive:
        for name, data in entries.items():
            archive.writestr(name, data)
    with modelfile.Archive(path, "seqkit-x", versions=(1,)) as model:
        with pytest.raises(DataError, match=r"entry param/w is damaged or truncated \(its header claims \[400000000, 3\]"):
            model.array("param/w", [4, 3])
        with pytest.raises(DataError, match="entry param/w is damaged"):
            model.group("param")


def test_an_entry_of_python_objects_is_refused_without_unpickling(tmp_path):
    import io

    path = write(tmp_path / "m.npz", {"format": "seqkit-x", "version": 1}, {"param/w": np.ones(2, np.float32)})
    pickled = io.BytesIO()
    np.save(pickled, np.array([{"a": 1}, None], dtype=object), allow_pickle=True)
    with zipfile.ZipFile(path, "a") as archive:
        archive.writestr("param/o.npy", pickled.getvalue())
    with modelfile.Archive(path, "seqkit-x", versions=(1,)) as model:
        with pytest.raises(DataError, match=r"entry param/o holds Python objects; refused \(no pickle\)"):
            model.group("param")
