"""What the tests need of the live fleet: serve's address from
REQFLEET_URL (and REQFLEET_API_TOKEN), as the client reads them. Without
REQFLEET_URL the tests are skipped; clients/python's Go test
(e2e/python_test.go) starts Redis, serve and a worker and sets them."""
import os
import sys
import unittest

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), ".."))

from target import Target  # noqa: E402

_target = None


def need_fleet():
    if not os.environ.get("REQFLEET_URL"):
        raise unittest.SkipTest("REQFLEET_URL is not set: these tests need a live fleet (go test ./e2e/ -run Python)")


def target():
    global _target
    if _target is None:
        _target = Target()
    return _target
