"""Helpers for the tests that run real processes (servers, workers, Redis) beside the test."""

import socket
import time


def free_port() -> int:
    """A loopback port nothing listens on now: for a server of the test's own, or a refused connection."""
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def wait_for(condition, timeout: float, what: str):
    """Poll `condition` until it returns something true (returned), failing the test after `timeout` s."""
    deadline = time.monotonic() + timeout
    while not (result := condition()):
        if time.monotonic() > deadline:
            raise AssertionError(f"timed out after {timeout} s waiting for {what}")
        time.sleep(0.2)
    return result
