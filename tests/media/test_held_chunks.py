"""``media.uploads.HeldChunks``: an upload held as its chunks reads and seeks as one file."""

from __future__ import annotations

import io

from hypothesis import given
from hypothesis import strategies as st

from media.uploads import HeldChunks, HeldUploadedFile

OPERATIONS = st.lists(
    st.one_of(
        st.tuples(st.just("read"), st.integers(min_value=-1, max_value=300)),
        st.tuples(st.just("seek"), st.integers(min_value=0, max_value=300), st.sampled_from([0, 1, 2])),
    ),
    max_size=30,
)


@given(chunks=st.lists(st.binary(min_size=1, max_size=90), max_size=6), operations=OPERATIONS)
def test_reads_and_seeks_as_the_joined_bytes_do(chunks: list[bytes], operations: list[tuple]) -> None:  # type: ignore[type-arg]
    held, joined = HeldChunks(list(chunks)), io.BytesIO(b"".join(chunks))
    for operation in operations:
        if operation[0] == "read":
            assert held.read(operation[1]) == joined.read(operation[1])
        else:
            offset, whence = operation[1], operation[2]
            offset = offset if whence == 0 else offset - 150  # backwards too, never before the start
            if (whence == 1 and joined.tell() + offset < 0) or (whence == 2 and len(joined.getvalue()) + offset < 0):
                continue
            assert held.seek(offset, whence) == joined.seek(offset, whence)
        assert held.tell() == joined.tell()
    buffer = bytearray(64)
    assert held.readinto(buffer) == joined.readinto(expected := bytearray(64))
    assert buffer == expected


def test_stored_as_the_chunks_it_holds_without_joining_them() -> None:
    chunks = [b"a" * 10, b"b" * 20, b"c"]
    upload = HeldUploadedFile(HeldChunks(chunks), "shot.png", "image/png", 31, None)
    assert [id(chunk) for chunk in upload.chunks()] == [id(chunk) for chunk in chunks]
    assert upload.multiple_chunks()
    assert upload.read() == b"".join(chunks)
