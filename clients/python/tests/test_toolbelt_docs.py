"""The examples of requests_toolbelt's threading docs (testdata/threading.rst,
a copy of its docs/threading.rst), run unchanged but for the import against
the live fleet, and beside them, when a python3 with requests_toolbelt is
given (REQFLEET_TOOLBELT_PYTHON), run unchanged by the toolbelt itself: the
same output. The docs leave the URL list to fill in ("# My list of URLs to
get"); the test fills it with the loopback target's."""
import os
import re
import subprocess
import sys
import unittest

from fleet import need_fleet, target

HERE = os.path.dirname(os.path.abspath(__file__))
CLIENT = os.path.dirname(HERE)
PLACEHOLDER = re.compile(r"urls = \[\n\s*# My list of URLs to get\n\s*\]")
IMPORTS = [("from requests_toolbelt.threaded import pool", "from reqfleet import pool"),
           ("from requests_toolbelt import threaded", "from reqfleet import threaded")]


def setUpModule():
    need_fleet()


def code_blocks():
    with open(os.path.join(HERE, "testdata", "threading.rst"), encoding="utf-8") as f:
        text = f.read()
    blocks = []
    for m in re.finditer(r"\.\. code-block:: python\n\n((?:    .*\n|\n)+)", text):
        lines = [line[4:] for line in m.group(1).splitlines()]
        blocks.append("\n".join(lines).strip() + "\n")
    return blocks


def switched(src):
    """The one change a user makes: the import."""
    for old, new in IMPORTS:
        src = src.replace(old, new)
    return src


def run(py, src, pythonpath=None):
    env = dict(os.environ)
    if pythonpath:
        env["PYTHONPATH"] = pythonpath
    else:
        env.pop("PYTHONPATH", None)
    p = subprocess.run([py, "-c", src], capture_output=True, text=True, timeout=120, env=env, cwd=HERE)
    return p.returncode, p.stdout, p.stderr


class ToolbeltDocsTest(unittest.TestCase):
    @classmethod
    def setUpClass(cls):
        t = target().url
        cls.urls = [t + "/status/200", t + "/status/404", t + "/json", "http://127.0.0.1:1/"]
        cls.blocks = code_blocks()
        cls.toolbelt = os.environ.get("REQFLEET_TOOLBELT_PYTHON", "")

    def filled(self, src):
        self.assertRegex(src, PLACEHOLDER)
        return PLACEHOLDER.sub("urls = " + repr(self.urls), src)

    def both(self, i):
        src = self.filled(self.blocks[i])
        ours = run(sys.executable, switched(src), CLIENT)
        self.assertNotIn("requests_toolbelt", switched(src))
        theirs = run(self.toolbelt, src) if self.toolbelt else None
        return ours, theirs

    def test_the_docs_examples(self):
        self.assertEqual(len(self.blocks), 5, "threading.rst's examples changed")
        # Two examples do not run as written, with the toolbelt either: the
        # first puts on the queue module and passes an undefined q; the last
        # has a loop whose body is a comment.
        self.assertIn("queue.put(", self.blocks[0])
        self.assertIn("pool.Pool(job_queue=q)", self.blocks[0])
        with self.assertRaises(SyntaxError):
            compile(self.blocks[4], "threading.rst", "exec")

    def test_from_urls_responses(self):
        (code, out, err), theirs = self.both(1)
        self.assertEqual(code, 0, err)
        want = sorted("GET {0}. Returned {1}.".format(u, c) for u, c in zip(self.urls[:3], (200, 404, 200)))
        self.assertEqual(sorted(out.splitlines()), want)
        if theirs:
            self.assertEqual(theirs[0], 0, theirs[2])
            self.assertEqual(sorted(theirs[1].splitlines()), want, "the toolbelt itself")

    def test_exceptions(self):
        (code, out, err), theirs = self.both(2)
        self.assertEqual(code, 0, err)
        lines = out.splitlines()
        self.assertEqual(len(lines), 1, out)
        self.assertTrue(lines[0].startswith("GET http://127.0.0.1:1/. Raised "), lines[0])
        self.assertGreater(len(lines[0]), len("GET http://127.0.0.1:1/. Raised ."))
        if theirs:
            # Under Python 3 the toolbelt's exc.message fails: requests'
            # exceptions have no message attribute. reqfleet's have one.
            self.assertNotEqual(theirs[0], 0)
            self.assertIn("AttributeError", theirs[2])
            self.assertIn("message", theirs[2])

    def test_retry_exceptions(self):
        (code, out, err), theirs = self.both(3)
        self.assertEqual((code, out), (0, ""), err)
        if theirs:
            self.assertEqual(theirs[:2], (0, ""), theirs[2])


if __name__ == "__main__":
    unittest.main()
