"""Inputs by path or '-', transparent compression, atomic all-or-nothing outputs, and the reporter."""

from __future__ import annotations

import gzip
import lzma
import os

import pytest

from seqkit.errors import SeqkitError
from seqkit.progress import Reporter
from seqkit.textio import atomic_output, check_output_path, open_input


def test_atomic_output_replaces_only_on_success(tmp_path):
    target = tmp_path / "out.txt"
    target.write_text("old\n")
    os.chmod(target, 0o640)
    with pytest.raises(RuntimeError):
        with atomic_output(str(target)) as out:
            out.write("half")
            raise RuntimeError("boom")
    assert target.read_text() == "old\n" and sorted(os.listdir(tmp_path)) == ["out.txt"]
    with atomic_output(str(target)) as out:
        out.write("new\n")
    assert target.read_text() == "new\n"
    assert os.stat(target).st_mode & 0o777 == 0o640  # the user's permissions are kept


def test_atomic_output_ctrl_c_leaves_nothing(tmp_path):
    target = tmp_path / "fresh.txt"
    with pytest.raises(KeyboardInterrupt):
        with atomic_output(str(target)) as out:
            out.write("partial")
            raise KeyboardInterrupt
    assert os.listdir(tmp_path) == []


@pytest.mark.parametrize("suffix,opener", [(".gz", gzip.open), (".xz", lzma.open)])
def test_compressed_output_and_input_round_trip(tmp_path, suffix, opener):
    target = tmp_path / f"x.txt{suffix}"
    with atomic_output(str(target)) as out:
        out.write("héllo\n")
    with opener(target, "rt", encoding="utf-8") as handle:
        assert handle.read() == "héllo\n"
    with open_input(str(target)) as handle:
        assert handle.read() == "héllo\n"


@pytest.mark.parametrize("binary", [False, True])
def test_gzip_output_header_names_the_output_not_the_temporary_file(tmp_path, binary):
    target = tmp_path / "vectors.txt.gz"
    with atomic_output(str(target), binary=binary) as out:
        out.write(b"v 1\n" if binary else "v 1\n")
    data = target.read_bytes()
    assert data[3] & 0x08  # FNAME set, as gzip sets it: the name `gzip -dN` restores
    name = data[10:data.index(b"\0", 10)]
    assert name == b"vectors.txt"
    assert gzip.decompress(data) == b"v 1\n"


def test_compression_detected_by_magic_bytes_whatever_the_name(tmp_path):
    path = tmp_path / "looks-plain.txt"
    with gzip.open(path, "wb") as handle:
        handle.write(b"zipped\n")
    with open_input(str(path), binary=True) as handle:
        assert handle.read() == b"zipped\n"


def test_check_output_path_fails_early(tmp_path):
    with pytest.raises(SeqkitError, match="does not exist"):
        check_output_path(str(tmp_path / "no" / "such" / "dir" / "x.txt"))
    with pytest.raises(SeqkitError, match="is a directory"):
        check_output_path(str(tmp_path))
    check_output_path("-")
    check_output_path(str(tmp_path / "ok.txt"))


def test_open_input_errors(tmp_path):
    with pytest.raises(SeqkitError, match="no such file"):
        with open_input(str(tmp_path / "missing")):
            pass
    with pytest.raises(SeqkitError, match="is a directory"):
        with open_input(str(tmp_path)):
            pass


def test_reporter_quiet_prints_nothing(capsys):
    reporter = Reporter(quiet=True)
    with reporter.task("work", total=10) as task:
        task.update(5, loss=0.5)
    reporter.info("info")
    reporter.warn("warn")
    reporter.summary("done")
    captured = capsys.readouterr()
    assert captured.out == "" and captured.err == ""


def test_reporter_not_a_terminal_prints_plain_lines_on_stderr(capsys):
    reporter = Reporter()
    with reporter.task("work", total=10) as task:
        task.update(10)
    reporter.warn("careful")
    reporter.summary("done")
    captured = capsys.readouterr()
    assert captured.out == ""
    assert captured.err == "seqkit: warning: careful\ndone\n"
    assert task.completed == 10


def test_text_lines_decode_each_line_and_name_a_bad_one(tmp_path):
    from seqkit.errors import DataError
    from seqkit.textio import text_lines

    path = tmp_path / "t.txt"
    path.write_bytes(b"\xef\xbb\xbfone\r\ntwo\nthr\xffee")
    with pytest.raises(DataError, match=r"t.txt:3: invalid UTF-8 \(byte ff at offset 15\)"):
        list(text_lines(str(path)))
    assert list(text_lines(str(path), "replace")) == ["one\r\n", "two\n", "thr\ufffdee"]
    assert list(text_lines(str(path), "ignore"))[2] == "three"


def test_line_blocks_of_a_file_and_compressed_stdin_read_as_a_file_is(tmp_path, seqkit_proc):
    import gzip

    from seqkit.textio import line_blocks

    path = tmp_path / "five.txt"
    path.write_text("a\nb\nc\nd\ne")
    assert list(line_blocks(str(path), most=2)) == [["a\n", "b\n"], ["c\n", "d\n"], ["e"]]
    model = tmp_path / "m.npz"
    train = tmp_path / "t.txt"
    train.write_text("__label__x a b\n__label__y c d\n")
    assert seqkit_proc("classify", str(train), "-o", str(model), "-q", "--epochs", "10", "-t", "1").returncode == 0
    done = seqkit_proc("predict", "-m", str(model), "-", input=gzip.compress(b"a b\nc d\n"))
    assert done.returncode == 0 and done.stdout == b"__label__x\n__label__y\n", done.stderr  # as a .gz file
    done = seqkit_proc("vocab", "-", input=gzip.compress(b"a b a\n"))
    assert done.returncode == 0 and done.stdout == b"a 2\nb 1\n", done.stderr


def _fifo_with(tmp_path, name: str, data: bytes):
    """A named pipe that a thread fills with `data` once a reader opens it (as `<(...)` gives a command)."""
    import threading

    path = tmp_path / name
    os.mkfifo(path)

    def write():
        with open(path, "wb") as out:
            out.write(data)

    threading.Thread(target=write, daemon=True).start()
    return path


@pytest.mark.timeout(120)  # reopening a pipe would wait for a writer that is gone
@pytest.mark.parametrize("compress", [False, True])
def test_a_named_pipe_is_read_whole_plain_or_compressed(tmp_path, cli_run, compress):
    """Opened once: a pipe cannot give its first bytes twice (they were lost to compression sniffing)."""
    text = "".join(f"w{i % 97} w{i % 13} w{i % 7}\n" for i in range(20000)).encode()
    (tmp_path / "c.txt").write_bytes(text)
    expected = cli_run("vocab", tmp_path / "c.txt").stdout
    fifo = _fifo_with(tmp_path, "pipe", gzip.compress(text) if compress else text)
    assert cli_run("vocab", fifo).stdout == expected


@pytest.mark.timeout(120)
def test_a_named_pipe_is_spooled_for_a_second_pass(tmp_path, cli_run):
    text = "".join(f"w{i % 31} w{i % 11} w{i % 5}\n" for i in range(400))
    fifo = _fifo_with(tmp_path, "pipe", text.encode())
    small = ["--hidden", "4", "--embed", "4", "--batch", "4", "--bptt", "5", "-t", "1", "--epochs", "1"]
    result = cli_run("rnnlm", fifo, "-o", tmp_path / "m.npz", *small)
    assert result.exit_code == 0, result.stderr
    assert f"spooled {fifo} to a temporary file ({len(text):,} bytes)" in result.stderr
    assert "1,600 training tokens" in result.stderr  # 3 words and </s> a line


@pytest.mark.timeout(120)
def test_an_output_that_is_a_pipe_or_device_is_written_in_place(tmp_path):
    """A rename onto /dev/null (as root) or a fifo would replace the node itself with a regular file."""
    import stat
    import threading

    fifo = tmp_path / "out.fifo"
    os.mkfifo(fifo)
    got = []
    reader = threading.Thread(target=lambda: got.append(fifo.read_bytes()), daemon=True)
    reader.start()
    with atomic_output(str(fifo)) as out:
        out.write("through the pipe\n")
    reader.join(60)
    assert got == [b"through the pipe\n"] and stat.S_ISFIFO(os.stat(fifo).st_mode)
    assert sorted(os.listdir(tmp_path)) == ["out.fifo"]  # no temporary file beside it
    with atomic_output(os.devnull) as out:
        out.write("gone\n")
    assert stat.S_ISCHR(os.stat(os.devnull).st_mode)


@pytest.mark.skipif(not os.path.exists("/dev/full"), reason="needs /dev/full (Linux)")
def test_a_full_stdout_is_an_error_not_a_silent_truncation(tmp_path, seqkit_proc):
    import subprocess
    import sys

    corpus = tmp_path / "c.txt"
    corpus.write_text("".join(f"w{i} w{i % 7}\n" for i in range(3000)))
    with open("/dev/full", "w") as full:
        done = subprocess.run([sys.executable, "-m", "seqkit", "vocab", str(corpus), "-q"], stdout=full,
                              stderr=subprocess.PIPE, text=True, timeout=120)
    assert done.returncode == 1 and "No space left on device (writing stdout" in done.stderr


@pytest.mark.skipif(not os.path.exists("/dev/full"), reason="needs /dev/full (Linux)")
def test_a_full_device_given_as_the_output_is_named():
    with pytest.raises(SeqkitError, match=r"^/dev/full: cannot be written \(No space left on device\)$"):
        with atomic_output("/dev/full") as out:
            out.write("x" * 100_000)


def test_an_output_that_is_a_symbolic_link_is_written_through_it(tmp_path):
    (tmp_path / "models").mkdir()
    real = tmp_path / "models" / "v3.txt"
    real.write_text("old\n")
    link = tmp_path / "model.txt"
    link.symlink_to(real)
    with atomic_output(str(link)) as out:
        out.write("new\n")
    assert link.is_symlink() and real.read_text() == "new\n"
    assert sorted(os.listdir(tmp_path / "models")) == ["v3.txt"]
    dangling = tmp_path / "next.txt"
    dangling.symlink_to(tmp_path / "models" / "v4.txt")
    with atomic_output(str(dangling)) as out:
        out.write("made\n")
    assert dangling.is_symlink() and (tmp_path / "models" / "v4.txt").read_text() == "made\n"


def test_a_full_disk_names_the_output_and_keeps_the_old_file(tmp_path):
    import errno

    target = tmp_path / "out.txt"
    with pytest.raises(SeqkitError, match=r"out.txt: cannot be written \(No space left on device\); nothing was written"):
        with atomic_output(str(target)) as out:
            out.write("partial")
            raise OSError(errno.ENOSPC, "No space left on device")
    target.write_text("old\n")
    with pytest.raises(SeqkitError, match="the file there is kept"):
        with atomic_output(str(target)) as out:
            raise OSError(errno.ENOSPC, "No space left on device")
    assert target.read_text() == "old\n" and os.listdir(tmp_path) == ["out.txt"]
    with pytest.raises(PermissionError):  # an input's error inside the block is not the output's
        with atomic_output(str(target)) as out:
            raise PermissionError(errno.EACCES, "Permission denied", "input.txt")


def test_an_output_directory_that_takes_no_files_is_named_by_the_output(tmp_path):
    with pytest.raises(SeqkitError, match=r"^/proc/x.txt: "):  # (root reaches mkstemp; others the access check)
        with atomic_output("/proc/x.txt"):
            pass
