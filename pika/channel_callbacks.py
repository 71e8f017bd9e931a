"""The callback `Channel`'s registration of application callbacks.

`ChannelCallbacks` is a part of `pika.channel.Channel`: the methods by
which an application asks to hear of replies (`add_callback`), of the
channel's close, of consumer cancellations by the broker, of Channel.Flow,
of returned messages and of messages over ``max_message_size``. The lists
it fills are the channel's own, read where the events arrive. The
``add_on_*``/``remove_on_*`` pairs come from the generated
`pika.callback_registrations.ChannelRegistrations` (one table of events
for every surface); `add_callback` and `addFlowChangeHandler` are written
here.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any, Callable, Sequence

from pika import amqp_object, exceptions, frame, spec, validation
from pika.callback_registrations import ChannelRegistrations

if TYPE_CHECKING:
    from pika.channel import Channel

OnCloseCallback = Callable[["Channel", Exception], Any]
OnCancelCallback = Callable[[frame.Method], Any]
OnFlowCallback = Callable[[bool], Any]
FlowChangeHandler = Callable[[Any, bool], Any]
OnReturnCallback = Callable[["Channel", spec.Basic.Return, spec.BasicProperties, bytes], Any]
OnTooLargeCallback = Callable[["Channel", exceptions.MessageTooLargeError], Any]


class ChannelCallbacks(ChannelRegistrations):
    """The callback registrations of `pika.channel.Channel` (see the module)."""

    if TYPE_CHECKING:
        _registered: dict[type, list[tuple[Callable[..., Any], bool]]]
        _on_close: list[OnCloseCallback]
        _on_cancel: list[OnCancelCallback]
        _on_flow: list[OnFlowCallback]
        _on_return: list[OnReturnCallback]
        _on_too_large: list[OnTooLargeCallback]

    def add_callback(
        self,
        callback: Callable[..., Any],
        replies: Sequence[type[amqp_object.Method]],
        one_shot: bool = True,
    ) -> None:
        """Call ``callback(method_frame)`` when one of ``replies`` arrives.

        Args:
            callback: Called with the reply's method frame.
            replies: The reply method classes to wait for (e.g. ``[pika.spec.Basic.GetEmpty]``).
            one_shot: Remove the callback after its first call.
        """
        validation.require_callable(callback, "callback")
        for reply in replies:
            self._registered.setdefault(reply, []).append((callback, one_shot))

    def remove_callback(
        self,
        callback: Callable[..., Any],
        replies: Sequence[type[amqp_object.Method]] | None = None,
    ) -> bool:
        """Remove a callback added with `add_callback`.

        Args:
            callback: The callback to remove.
            replies: Remove it only for these reply classes; None for all.

        Returns:
            True if it was registered.
        """
        removed = False
        for reply in list(replies) if replies is not None else list(self._registered):
            entries = self._registered.get(reply, [])
            kept = [entry for entry in entries if entry[0] != callback]
            removed = removed or len(kept) != len(entries)
            self._registered[reply] = kept
        return removed

    def addFlowChangeHandler(self, handler: FlowChangeHandler) -> None:
        """Call ``handler(channel, transmission_permitted)`` whenever the
        broker stops (False) or resumes (True) this channel's flow with
        Channel.Flow; the name and arguments of Pika 0.5's interface, beside
        `add_on_flow_callback`.

        Args:
            handler: Called as ``handler(channel, transmission_permitted)``.

        Raises:
            TypeError: ``handler`` is not callable.
        """
        validation.require_callable(handler, "handler")
        self._on_flow.append(lambda permitted: handler(self, permitted))
