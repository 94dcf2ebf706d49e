"""reqfleet.exceptions against requests.exceptions: the same names, nested
the same way (requests is installed where CI runs; without it the test
says so and checks reqfleet's own tree)."""
import inspect
import unittest

import fleet  # noqa: F401 (sys.path)
from reqfleet import exceptions as ours
from reqfleet.models import CaseInsensitiveDict

try:
    import requests.exceptions as theirs
except ImportError:  # pragma: no cover
    theirs = None


def lineage(cls, modules):
    return [c.__name__ for c in cls.__mro__ if c.__module__ in modules]


class HierarchyTest(unittest.TestCase):
    @unittest.skipIf(theirs is None, "requests is not installed: nothing to compare with")
    def test_same_names_and_nesting_as_requests(self):
        names = [n for n, c in inspect.getmembers(theirs, inspect.isclass)
                 if c.__module__ == theirs.__name__ and issubclass(c, theirs.RequestException)]
        self.assertGreater(len(names), 15)
        for name in names:
            with self.subTest(name):
                mine = getattr(ours, name, None)
                self.assertIsNotNone(mine, f"requests.exceptions.{name} has no reqfleet twin")
                self.assertEqual(lineage(mine, {ours.__name__, "builtins", "json.decoder"}),
                                 lineage(getattr(theirs, name), {theirs.__name__, "builtins", "json.decoder"}))

    def test_outcome_names(self):
        for name in ["ConnectionError", "ConnectTimeout", "ReadTimeout", "Timeout", "TooManyRedirects",
                     "MissingSchema", "InvalidURL", "InvalidSchema", "SSLError", "ProxyError",
                     "ChunkedEncodingError", "ContentDecodingError", "WorkerLost", "WorkerCrashed",
                     "InvalidJob", "DeniedAddress"]:
            cls = ours.exception_class(name)
            self.assertEqual(cls.__name__, name)
            self.assertTrue(issubclass(cls, ours.RequestException))
        new = ours.exception_class("SomethingNew")
        self.assertEqual(new.__name__, "SomethingNew")
        self.assertTrue(issubclass(new, ours.FleetException))
        self.assertIs(ours.exception_class("SomethingNew"), new)
        self.assertIs(ours.exception_class("not a name"), ours.FleetException)
        self.assertEqual(ours.ConnectionError("boom").message, "boom")

    def test_case_insensitive_dict(self):
        d = CaseInsensitiveDict({"Content-Type": "a"})
        self.assertEqual(d["content-type"], "a")
        d["CONTENT-type"] = "b"
        self.assertEqual(list(d), ["CONTENT-type"])
        self.assertEqual(d, {"content-type": "b"})
        self.assertNotIn("x", d)


if __name__ == "__main__":
    unittest.main()
