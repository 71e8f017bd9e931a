"""What a connection does when the broker, while it is opening, points
elsewhere: another AMQP version (its answer to our protocol header), or
another host (AMQP 0-8's Connection.Redirect). Each is followed once."""

from __future__ import annotations

import copy
import logging

from pika import exceptions
from pika.parameters import Parameters

LOGGER = logging.getLogger("pika.connection")


def reopen_parameters(
    params: Parameters, error: BaseException, followed: set[str]
) -> Parameters | None:
    """The parameters to open the connection again with after ``error``,
    or None when ``error`` is no such pointer or it was followed already.

    Args:
        params: the parameters of the attempt that failed.
        error: why the opening failed.
        followed: what was followed so far ("version", "redirect"); updated.

    Returns:
        A copy of ``params`` with the version or the host and port the broker
        named, or None.
    """
    if isinstance(error, exceptions.ProtocolVersionOffered) and "version" not in followed:
        followed.add("version")
        retry = copy.copy(params)
        retry.amqp_version = error.amqp_version
        LOGGER.info(
            "%s:%s answered AMQP %s with AMQP %s; connecting again with amqp_version=%r",
            params.host,
            params.port,
            params.amqp_version,
            error.amqp_version,
            error.amqp_version,
        )
        return retry
    if isinstance(error, exceptions.ConnectionRedirected) and "redirect" not in followed:
        followed.add("redirect")
        retry = copy.copy(params)
        retry.host = error.redirect_host
        if error.redirect_port is not None:
            retry.port = error.redirect_port
        LOGGER.info(
            "%s:%s redirected the connection to %s:%s; following it",
            params.host,
            params.port,
            retry.host,
            retry.port,
        )
        return retry
    return None
