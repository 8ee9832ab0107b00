"""The checks the client suites (operations.py, mock_config.py) make: a failed expectation is a
CheckFailed with what was expected and what came."""

from __future__ import annotations

from typing import Any


class CheckFailed(Exception):
    """A check's expectation did not hold."""


def expect(cond: bool, message: str) -> None:
    if not cond:
        raise CheckFailed(message)


def equal(got: Any, want: Any, what: str) -> None:
    expect(got == want, f"{what}: got {got!r}, expected {want!r}")
