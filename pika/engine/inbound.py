"""The inbound side of the engine: where received bytes wait to be parsed.

Bytes come in two ways:

- `InboundBuffer.receive_data`: bytes the caller read. While nothing is
  pending they are parsed where they are, without a copy; the rest of an
  incomplete large frame is copied into that frame's own buffer (and what
  follows the frame waits until it is parsed).
- `InboundBuffer.get_buffer` and `InboundBuffer.buffer_updated`: the caller
  reads straight into memory the engine lends (the shape of asyncio's
  ``BufferedProtocol``), so a socket's ``recv_into`` fills it.

Small frames are read into a scratch buffer and parsed as ``bytes``, which
the codecs decode fastest. Large frames (at least `LARGE_FRAME` bytes) are
read into a buffer made for each:

- between the body frames of a message, the engine lends a buffer the size
  of the next body frame, so it is read whole where it is parsed (whatever
  else arrives instead is parsed there just as well);
- when a large frame is incomplete, its start moves into a buffer made for
  it and the engine lends exactly the rest.

Body frames are kept as views (of immutable bytes, or of a frame's own
buffer, which nothing writes again), and a body of several frames is built
by one join. So a byte of a large body is copied once after the kernel's
copy (twice when it came through the scratch buffer), instead of once per
layer.

A new buffer per large frame, rather than one store reused, keeps the
allocation pattern of the bodies themselves: with glibc, bodies freed
together next to a reused store let the heap be trimmed and re-faulted for
every message, which cost more than the copies saved.
"""

from __future__ import annotations

import struct
from typing import Union

from pika.engine.channels import EngineChannel
from pika.frame import FRAME_OVERHEAD

#: What a socket read asks for while no large frame is incomplete.
READ_SIZE = 256 * 1024
#: Frames at least this large are completed in a buffer of their own.
LARGE_FRAME = 64 * 1024

Buffer = Union[bytes, bytearray, memoryview]
_ENVELOPE = struct.Struct(">BHI")


def copy_out(buf: Buffer, start: int, end: int) -> bytes:
    """``buf[start:end]`` as bytes, copied once (slicing a bytearray and then
    converting the slice would copy twice)."""
    if type(buf) is bytes:
        return buf[start:end]
    return bytes(memoryview(buf)[start:end])


class InboundBuffer:
    """The received bytes of one connection and the parse position in them.

    A mix-in of `pika.engine.connection_engine.ConnectionEngine`, which
    parses ``_buf`` from ``_pos`` to its end: a ``bytes`` (what the caller
    gave), a ``bytearray`` the engine grows for small frames split across
    reads, or a memoryview of the filled part of a large frame's buffer.
    """

    _channels: dict[int, EngineChannel]
    _max_frame: int

    def _init_inbound(self) -> None:
        self._buf: Buffer = b""
        self._pos = 0
        # The bytearray `receive_data` made itself (and so may trim in place).
        self._own_buffer: bytearray | None = None
        # The buffer of the large frame being read, and how much of it is filled.
        self._frame_view = memoryview(b"")
        self._filled = 0
        self._scratch: memoryview | None = None
        self._lent_frame = False
        # Bytes `receive_data` got past the end of a large frame it completed
        # in the frame's buffer; parsed once that frame is.
        self._rest: Buffer | None = None
        # The channel whose content header came last (its body may be under way).
        self._expecting: EngineChannel | None = None

    def receive_data(self, data: Buffer) -> None:
        """Buffer bytes from the transport; `next_event` parses them.

        Args:
            data: The bytes read; the engine keeps them and never modifies them.
        """
        if self._rest is not None:
            # The frame before them is not parsed yet: after those bytes (rare).
            self._rest = bytes(self._rest) + bytes(data)
            return
        if self._pos >= len(self._buf):
            self._buf = data
            self._pos = 0
            self._own_buffer = None
            return
        room = self._large_frame_room()
        if room is not None:
            # The rest of a large frame goes into its own buffer (one copy);
            # what follows the frame waits in `_rest`.
            count = min(len(room), len(data))
            room[:count] = memoryview(data)[:count]
            self._filled += count
            self._buf = self._frame_view[: self._filled]
            if count < len(data):
                self._rest = memoryview(data)[count:] if type(data) is bytes else data[count:]
            return
        buf = self._buf
        if buf is not self._own_buffer:
            # The caller's bytes (or a frame's buffer, whose views bodies may
            # hold) are never modified: copy what is left of them.
            buf = self._own_buffer = bytearray(memoryview(buf)[self._pos :])
        elif self._pos:
            # Removing a bytearray's head moves its start; nothing is copied.
            del buf[: self._pos]
        self._pos = 0
        buf += data
        self._buf = buf

    def get_buffer(self, size_hint: int = -1) -> memoryview:
        """Memory for the next read, which `buffer_updated` then reports.

        The rest of an incomplete large frame, in a buffer made for it (so it
        is not moved again); otherwise a scratch buffer of `READ_SIZE` bytes.

        Args:
            size_hint: Ignored (asyncio passes how much it would like; the
                engine knows better what is coming).

        Returns:
            A writable buffer; valid until `buffer_updated` or the next call.
        """
        if self._rest is not None:
            # Bytes given to `receive_data` wait unparsed: keep them first.
            self._buf = bytes(memoryview(self._buf)[self._pos :]) + bytes(self._take_rest_out())
            self._pos = 0
            self._own_buffer = None
        if len(self._buf) - self._pos >= 7:
            room = self._large_frame_room()
            if room is not None:
                self._lent_frame = True
                return room
        elif self._expecting is not None:
            frame = self._next_body_frame()
            if frame >= LARGE_FRAME:
                # Most likely the next body frame of the message under way:
                # read it whole where it is kept. (Whatever else comes
                # instead is parsed there just as well.)
                self._lent_frame = True
                return self._frame_buffer(frame)
        self._lent_frame = False
        scratch = self._scratch
        if scratch is None:
            scratch = self._scratch = memoryview(bytearray(READ_SIZE))
        return scratch

    def buffer_updated(self, nbytes: int) -> None:
        """The read into the last `get_buffer` returned ``nbytes`` bytes.

        Args:
            nbytes: How many bytes the read wrote at the buffer's start.
        """
        if self._lent_frame:
            self._filled += nbytes
            self._buf = self._frame_view[: self._filled]
        else:
            assert self._scratch is not None
            self.receive_data(bytes(self._scratch[:nbytes]))

    def _large_frame_room(self) -> memoryview | None:
        """Where the rest of the incomplete large frame at ``_pos`` goes (in
        the frame's own buffer), or None when no such frame is there."""
        buf = self._buf
        pos = self._pos
        unparsed = len(buf) - pos
        if unparsed < 7:
            return None
        frame = _ENVELOPE.unpack_from(buf, pos)[2] + FRAME_OVERHEAD
        if frame < LARGE_FRAME or frame > self._max_frame or frame <= unparsed:
            return None
        if self._in_frame_buffer(buf) and pos + frame <= len(self._frame_view):
            return self._frame_view[self._filled : pos + frame]
        return self._frame_buffer(frame)

    def _take_rest_out(self) -> Buffer:
        rest = self._rest
        assert rest is not None
        self._rest = None
        return rest

    def _take_rest(self) -> None:
        """The large frame before `_rest` is parsed: go on with `_rest`."""
        self.receive_data(self._take_rest_out())

    def _next_body_frame(self) -> int:
        """The size of the next body frame of the message whose content
        header came last, if its body is still incomplete (else 0)."""
        chan = self._expecting
        if chan is None or chan.properties is None or self._channels.get(chan.number) is not chan:
            self._expecting = None  # that body is whole (or its channel gone)
            return 0
        if chan.discarding:
            return 0
        return (
            min(chan.body_size - chan.received, self._max_frame - FRAME_OVERHEAD) + FRAME_OVERHEAD
        )

    def _frame_buffer(self, frame: int) -> memoryview:
        """Move the start of the ``frame``-byte frame at ``_pos`` into a
        buffer of its size; the rest of that buffer is returned."""
        unparsed = memoryview(self._buf)[self._pos :]
        kept = len(unparsed)
        view = self._frame_view = memoryview(bytearray(frame))
        view[:kept] = unparsed
        del unparsed
        self._own_buffer = None
        self._filled = kept
        self._pos = 0
        self._buf = view[:kept]
        return view[kept:]

    # ------------------------------------------------------------------ bodies

    def _in_frame_buffer(self, buf: Buffer) -> bool:
        """Whether ``buf`` is (a view of) the buffer `_frame_buffer` made last."""
        return type(buf) is memoryview and buf.obj is self._frame_view.obj

    def _hold(self, buf: Buffer, start: int, end: int) -> Buffer:
        """A body frame's payload kept until its message is whole: a view
        when nothing will overwrite ``buf`` (bytes or a view of bytes, or a
        frame's own buffer), else a copy (the bytearray the engine trims, or
        the caller's memory)."""
        if type(buf) is bytes:
            return memoryview(buf)[start:end]
        if isinstance(buf, memoryview) and (
            buf.obj is self._frame_view.obj or type(buf.obj) is bytes
        ):
            return buf[start:end]
        return copy_out(buf, start, end)
