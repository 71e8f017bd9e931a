"""`ContentFrameAssembler`: Pika's helper that joins content frames into a message.

The engine reassembles content itself; this class is part of Pika's public
interface (``pika.channel.ContentFrameAssembler``, re-exported there) for
code that handles `pika.frame` objects directly.
"""

from __future__ import annotations

from pika import exceptions, frame


class ContentFrameAssembler:
    """Reassembles method, header and body frames into one message.

    The engine does this itself on the hot path; this class serves code that
    works with `pika.frame` objects directly.
    """

    def __init__(self) -> None:
        self._method: frame.Method | None = None
        self._header: frame.Header | None = None
        self._chunks: list[bytes] = []
        self._size = 0

    def process(self, frame_value: frame.Frame) -> tuple[frame.Method, frame.Header, bytes] | None:
        """Feed one frame; returns the whole message once it is complete.

        Args:
            frame_value: The next method, header or body frame of the channel.

        Returns:
            ``(method_frame, header_frame, body)`` once a message is complete, else None.

        Raises:
            UnexpectedFrameError: The frame is out of order.
            BodyTooLongError: The body is longer than its header announced.
        """
        if isinstance(frame_value, frame.Method):
            if self._method is not None:
                raise exceptions.UnexpectedFrameError("method frame while a message was incomplete")
            self._method = frame_value
            return None
        if isinstance(frame_value, frame.Header):
            if self._method is None or self._header is not None:
                raise exceptions.UnexpectedFrameError("content header without a method frame")
            self._header = frame_value
            if frame_value.body_size == 0:
                return self._finish()
            return None
        if isinstance(frame_value, frame.Body):
            if self._header is None:
                raise exceptions.UnexpectedFrameError("content body without a header")
            self._chunks.append(frame_value.fragment)
            self._size += len(frame_value.fragment)
            if self._size > self._header.body_size:
                raise exceptions.BodyTooLongError(
                    f"received {self._size} body bytes, "
                    f"the header declared {self._header.body_size}"
                )
            if self._size == self._header.body_size:
                return self._finish()
            return None
        raise exceptions.UnexpectedFrameError(
            f"{type(frame_value).__name__} is not a content frame"
        )

    def _finish(self) -> tuple[frame.Method, frame.Header, bytes]:
        assert self._method is not None and self._header is not None
        message = (self._method, self._header, b"".join(self._chunks))
        self._method = None
        self._header = None
        self._chunks = []
        self._size = 0
        return message
