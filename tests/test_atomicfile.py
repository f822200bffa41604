"""The agent's one way of replacing a file (state, spool, installed units, the bundle)."""

import os
import stat

import pytest
from wire_preflight import atomicfile


def _mode(path):
    return stat.S_IMODE(os.stat(str(path)).st_mode)


def test_the_old_file_stays_whole_until_the_new_one_is_complete(tmp_path):
    target = tmp_path / "state.json"
    target.write_text("old\n")
    with atomicfile.replacing(str(target)) as handle:
        handle.write("new, first half ")
        handle.flush()
        assert target.read_text() == "old\n"
        handle.write("second half\n")
    assert target.read_text() == "new, first half second half\n"
    assert sorted(p.name for p in tmp_path.iterdir()) == ["state.json"]


def test_a_failure_inside_leaves_the_old_file_and_no_leftover(tmp_path):
    target = tmp_path / "state.json"
    target.write_text("old\n")
    with pytest.raises(RuntimeError), atomicfile.replacing(str(target)) as handle:
        handle.write("half")
        raise RuntimeError("the disk filled")
    assert target.read_text() == "old\n"
    assert sorted(p.name for p in tmp_path.iterdir()) == ["state.json"]


def test_a_failure_on_a_new_path_leaves_nothing(tmp_path):
    target = tmp_path / "bundle.tar.gz"
    with pytest.raises(KeyboardInterrupt), atomicfile.replacing(str(target), binary=True):
        raise KeyboardInterrupt
    assert list(tmp_path.iterdir()) == []


def test_a_mode_given_is_exact_whatever_the_umask(tmp_path):
    old = os.umask(0o077)
    try:
        atomicfile.write_atomically(str(tmp_path / "unit"), "[Unit]\n", 0o644)
        atomicfile.write_atomically(str(tmp_path / "plain"), "x")
        with atomicfile.replacing(str(tmp_path / "secret"), binary=True, mode=0o600) as handle:
            handle.write(b"\x00\xff")
    finally:
        os.umask(old)
    assert _mode(tmp_path / "unit") == 0o644
    assert _mode(tmp_path / "plain") == 0o600  # the umask's
    assert _mode(tmp_path / "secret") == 0o600
    assert (tmp_path / "secret").read_bytes() == b"\x00\xff"


def test_text_is_written_as_utf8(tmp_path):
    target = tmp_path / "reason"
    atomicfile.write_atomically(str(target), "größe ✓\n")
    assert target.read_bytes() == "größe ✓\n".encode()
