"""`Turn`: how a blocking call turns the I/O loop while it waits.

Every wait of the blocking API (for a reply, a confirm, Channel.Flow, a
message of the ``consume`` generator, the end of ``start_consuming``) runs
`BlockingConnection._run`, directly or through `BlockingChannel._wait`.
What differs between them is said by one `Turn` value, passed down as is:
`PLAIN`, `DISPATCH`, `INTERRUPTIBLE` or `BOUNDED`. A tuple of flags rather
than an `enum.Flag`: the consume generator's wait reads them once per
message, and reading a tuple field costs a tenth of a flag test.
"""

from __future__ import annotations

from typing import NamedTuple


class Turn(NamedTuple):
    """The ways of waiting.

    Attributes:
        dispatch: Run the ready application callbacks between turns (unless
            the wait is already inside one).
        interruptible: A wait for a reply: raise ``ConnectionInterrupted`` if
            a recovery begins before it is done.
        bounded: Raise ``RecoveryWaitTimeout`` once the wait has spent
            ``recovery_wait_timeout`` seconds in recoveries.
    """

    dispatch: bool = False
    interruptible: bool = False
    bounded: bool = False


#: Just wait.
PLAIN = Turn()
#: Run the ready callbacks while waiting (``start_consuming``, ``consume``).
DISPATCH = Turn(dispatch=True)
#: Wait for a reply; a recovery interrupts it.
INTERRUPTIBLE = Turn(interruptible=True)
#: Wait through recoveries for at most ``recovery_wait_timeout`` seconds of them.
BOUNDED = Turn(bounded=True)
