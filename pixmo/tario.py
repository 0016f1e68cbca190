"""Minimal, fast tar framing for shards: deterministic USTAR writing and streaming reading.

Writing produces the same layout as ``tarfile`` in USTAR format with fixed headers (mode 0644,
uid/gid 0, mtime 0, no user/group names), so the result is listed by ``tar -t`` and read by
``tarfile`` and the upstream ``webdataset``. Reading parses 512-byte headers directly from a
buffered stream (no per-member objects), and understands the GNU long-name and pax ``path``
extensions other writers use. Both sides avoid ``tarfile``'s per-member overhead.
"""

from __future__ import annotations

import tarfile
from collections.abc import Iterator
from typing import IO

BLOCK = 512
RECORD = 20 * BLOCK  # tarfile pads the archive to a multiple of this
ZERO_BLOCK = bytes(BLOCK)
END_OF_ARCHIVE = bytes(2 * BLOCK)


class TarFormatError(ValueError):
    """The byte stream is not a readable tar archive; the message says where it broke."""


def _tarfile_header(name: str, size: int) -> bytes:
    info = tarfile.TarInfo(name)
    info.size, info.mtime, info.mode = size, 0, 0o644
    return info.tobuf(tarfile.USTAR_FORMAT, "utf-8", "surrogateescape")


# tarfile's header for an empty name and size 0, with the checksum field blanked: patched per member
_TEMPLATE = bytearray(_tarfile_header("", 0))
_TEMPLATE[148:156] = b" " * 8
_BASE_SUM = sum(_TEMPLATE) - sum(_TEMPLATE[124:136])  # without the (all-zero) name and the size field


def member_header(name: str, size: int) -> bytes:
    """The 512-byte USTAR header of a regular file with fixed, reproducible metadata.

    Byte-identical to ``tarfile``'s USTAR header with mode 0644, uid/gid 0 and mtime 0; built by
    patching a template (name, size, checksum), which is several times faster.
    """
    raw = name.encode("utf-8", "surrogateescape")
    if len(raw) > 100 or size >= 8**11:  # needs the prefix field or a base-256 size: let tarfile do it
        return _tarfile_header(name, size)
    size_field = b"%011o\0" % size
    h = bytearray(_TEMPLATE)
    h[: len(raw)] = raw
    h[124:136] = size_field
    h[148:155] = b"%06o\0" % (_BASE_SUM + sum(raw) + sum(size_field))
    return bytes(h)


def member_bytes(name: str, data: bytes) -> list[bytes]:
    """Header, data and zero padding of one member, as chunks to write in order."""
    pad = -len(data) % BLOCK
    return [member_header(name, len(data)), data, bytes(pad)] if pad else [member_header(name, len(data)), data]


def archive_end(written: int) -> bytes:
    """The end-of-archive blocks plus the padding to a whole record, after ``written`` bytes."""
    total = written + len(END_OF_ARCHIVE)
    return END_OF_ARCHIVE + bytes(-total % RECORD)


def _number(field: bytes, where: str) -> int:
    if field[:1] and field[0] & 0x80:  # GNU base-256 for large values
        return int.from_bytes(field[1:], "big")
    digits = field.strip(b"\0 ")
    try:
        return int(digits, 8) if digits else 0
    except ValueError:
        raise TarFormatError(f"{where}: bad number field {field!r} in a tar header") from None


def _checksum_ok(hdr: bytes) -> bool:
    stored = hdr[148:156].strip(b"\0 ")
    try:
        want = int(stored, 8)
    except ValueError:
        return False
    s = sum(hdr[:148]) + sum(hdr[156:]) + 8 * 32
    return want == s


def _pax_path(data: bytes) -> str | None:
    path = None
    pos = 0
    while pos < len(data):
        sp = data.find(b" ", pos)
        if sp < 0:
            break
        length = int(data[pos:sp])
        rec = data[sp + 1 : pos + length - 1]
        k, _, v = rec.partition(b"=")
        if k == b"path":
            path = v.decode("utf-8", "surrogateescape")
        pos += length
    return path


def _read_exact(f: IO[bytes], n: int, where: str) -> bytes:
    data = f.read(n)
    if len(data) != n:
        raise TarFormatError(f"{where}: archive ends early ({len(data)} of {n} bytes)")
    return data


def iter_files(f: IO[bytes], where: str = "tar") -> Iterator[tuple[str, bytes]]:
    """(name, data) of every regular file in a tar stream, in order; other members are skipped.

    Raises TarFormatError for a truncated archive or a header with a bad checksum.
    """
    long_name: str | None = None
    offset = 0
    while True:
        hdr = f.read(BLOCK)
        if not hdr or hdr == ZERO_BLOCK:
            return
        if len(hdr) < BLOCK:
            raise TarFormatError(f"{where}: archive ends inside a header at byte {offset}")
        if not _checksum_ok(hdr):
            raise TarFormatError(f"{where}: tar header at byte {offset} has a bad checksum")
        size = _number(hdr[124:136], where)
        kind = hdr[156:157]
        data = _read_exact(f, size, where)
        pad = -size % BLOCK
        if pad:
            _read_exact(f, pad, where)
        offset += BLOCK + size + pad
        if kind == b"L":
            long_name = data.rstrip(b"\0").decode("utf-8", "surrogateescape")
            continue
        if kind in (b"x", b"g"):
            long_name = _pax_path(data) if kind == b"x" else long_name
            continue
        if kind not in (b"0", b"\0", b"7"):
            long_name = None
            continue
        if long_name is not None:
            name, long_name = long_name, None
        else:
            name = hdr[:100].split(b"\0", 1)[0].decode("utf-8", "surrogateescape")
            if hdr[257:262] == b"ustar" and hdr[345] != 0:
                prefix = hdr[345:500].split(b"\0", 1)[0].decode("utf-8", "surrogateescape")
                name = prefix + "/" + name
        yield name, data
