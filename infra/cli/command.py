"""What every command module shares with ``infra.cli``: the error a command raises to
tell its user something, and the types of ``register`` and ``run``."""

from __future__ import annotations

import argparse
from collections.abc import Callable
from typing import TYPE_CHECKING, TypeAlias

if TYPE_CHECKING:
    Commands: TypeAlias = argparse._SubParsersAction[argparse.ArgumentParser]

Handler = Callable[[argparse.Namespace], int]
EXIT_FAILURE = 1


class CommandError(Exception):
    """What a command tells its user when it cannot do its job, and the exit status."""

    def __init__(self, message: str, status: int = EXIT_FAILURE) -> None:
        super().__init__(message)
        self.status = status
