"""make_derivative's background threads: a forked process gets a pool of its own (the
parent's threads do not exist there, and a copied pool would never run what it is given)."""

from __future__ import annotations

import os
import sys

import pytest

from regional_resizer import derivative


@pytest.mark.skipif(not hasattr(os, "fork"), reason="no fork here")
def test_a_forked_child_runs_background_calls() -> None:
    before = derivative.BACKGROUND
    assert before.submit(lambda: 1).result(timeout=5) == 1  # the parent's threads exist
    pid = os.fork()
    if pid == 0:  # the child: exit 0 only if its pool runs a call
        try:
            ok = derivative.BACKGROUND is not before
            ok = ok and derivative.BACKGROUND.submit(lambda: 2).result(timeout=5) == 2
        except BaseException:
            ok = False
        sys.stdout.flush()
        os._exit(0 if ok else 1)
    _, status = os.waitpid(pid, 0)
    assert os.waitstatus_to_exitcode(status) == 0
    assert derivative.BACKGROUND is before
