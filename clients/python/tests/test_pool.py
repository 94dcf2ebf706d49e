import os
import queue
import unittest

from fleet import need_fleet, target

from reqfleet import exceptions, pool, threaded
from reqfleet.exceptions import FleetError


def setUpModule():
    need_fleet()


class PoolTest(unittest.TestCase):
    def setUp(self):
        self.t = target().url

    def run_pool(self, jobs, **kwargs):
        q = queue.Queue()
        for j in jobs:
            q.put(j)
        p = pool.Pool(job_queue=q, **kwargs)
        p.join_all(timeout=60)
        return p

    def test_from_urls(self):
        urls = [self.t + "/status/200", self.t + "/status/404", self.t + "/status/503"]
        p = pool.Pool.from_urls(urls, request_kwargs={"headers": {"X-From": "test"}})
        p.join_all(timeout=60)
        got = {r.request_kwargs["url"]: r for r in p.responses()}
        self.assertEqual(set(got), set(urls))
        for url, r in got.items():
            code = int(url.rsplit("/", 1)[1])
            self.assertEqual(r.status_code, code)
            self.assertEqual(r.text, "status %d" % code)
            self.assertEqual(r.content, b"status %d" % code)
            self.assertEqual(r.request_kwargs, {"method": "GET", "url": url, "headers": {"X-From": "test"}})
            self.assertEqual(r.ok, code < 400)
        with self.assertRaises(exceptions.HTTPError):
            got[urls[1]].raise_for_status()
        self.assertEqual(list(p.exceptions()), [])
        self.assertEqual(list(p.responses()), [], "responses() yields each once, as the toolbelt's queue drains")

    def test_response_attributes(self):
        jobs = [
            {"url": self.t + "/json", "id": "json"},
            {"url": self.t + "/bytes", "id": "bytes"},
            {"url": self.t + "/latin1", "id": "latin1"},
            {"method": "POST", "url": self.t + "/echo", "id": "echo", "params": {"page": 2, "q": ["a", "b"]},
             "headers": {"X-Api-Key": "k"}, "json": {"a": 1}},
        ]
        p = self.run_pool(jobs)
        got = {r.id: r for r in p.responses()}
        self.assertEqual(set(got), {"json", "bytes", "latin1", "echo"})
        r = got["json"]
        self.assertEqual(r.json(), {"hello": "fleet", "n": [1, 2, 3]})
        self.assertEqual(r.headers["content-type"], "application/json")
        self.assertEqual(r.headers["CONTENT-TYPE"], "application/json")
        self.assertEqual(r.headers.get("x-target"), "reqfleet-tests")
        self.assertIn("Content-Length", r.headers)
        self.assertIs(r.request_kwargs, jobs[0], "request_kwargs is the dict given")
        self.assertEqual(got["bytes"].content, bytes(range(256)))
        with self.assertRaises(ValueError):  # requests' JSONDecodeError is a ValueError
            got["bytes"].json()
        self.assertEqual(got["latin1"].text, "café")
        self.assertEqual(got["latin1"].encoding, "iso-8859-1")
        echo = got["echo"].json()
        self.assertEqual(echo["method"], "POST")
        self.assertEqual(echo["query"], {"page": ["2"], "q": ["a", "b"]})
        self.assertEqual(echo["body"], '{"a": 1}')
        self.assertEqual(echo["headers"].get("X-Api-Key"), "k")
        self.assertEqual(echo["headers"].get("Content-Type"), "application/json")
        self.assertGreaterEqual(got["echo"].elapsed.total_seconds(), 0)

    def test_exceptions(self):
        jobs = [
            {"url": "http://127.0.0.1:1/", "id": "refused"},
            {"url": self.t + "/sleep/3000", "timeout": 0.3, "id": "slow"},
            {"url": "example.com/no-scheme", "id": "noscheme"},
            {"url": "ftp://example.com/", "id": "ftp"},
            {"url": self.t + "/status/200", "id": "fine"},
        ]
        p = self.run_pool(jobs)
        self.assertEqual([r.id for r in p.responses()], ["fine"])
        got = {e.request_kwargs["id"]: e for e in p.exceptions()}
        self.assertEqual(set(got), {"refused", "slow", "noscheme", "ftp"})
        want = {"refused": exceptions.ConnectionError, "slow": exceptions.ReadTimeout,
                "noscheme": exceptions.MissingSchema, "ftp": exceptions.InvalidSchema}
        for i, cls in want.items():
            e = got[i]
            self.assertIs(type(e.exception), cls, i)
            self.assertIsInstance(e.exception, exceptions.RequestException)
            self.assertIsInstance(e.exception, IOError)
            self.assertTrue(e.message, "the worker's message, as the toolbelt docs' exc.message")
            self.assertEqual(e.exception.outcome["exception"]["type"], cls.__name__)
        self.assertIsInstance(got["slow"].exception, exceptions.Timeout)
        self.assertIsInstance(got["noscheme"].exception, ValueError)
        with self.assertRaises(exceptions.ConnectionError):
            raise got["refused"].exception
        self.assertEqual(list(p.exceptions()), [])

        # from_exceptions sends them again: the same exceptions come back.
        again = pool.Pool.from_exceptions(got.values())
        again.join_all(timeout=60)
        self.assertEqual({e.request_kwargs["id"] for e in again.exceptions()}, set(got))
        self.assertNotEqual(again.batch, p.batch)

    def test_threaded_map(self):
        reqs = [{"method": "GET", "url": self.t + "/status/201"}, {"method": "GET", "url": "http://127.0.0.1:1/"}]
        responses, excs = threaded.map(reqs)
        self.assertEqual([(r.request_kwargs["url"], r.status_code) for r in responses], [(self.t + "/status/201", 201)])
        self.assertEqual([type(e.exception).__name__ for e in excs], ["ConnectionError"])
        with self.assertRaises(ValueError):
            threaded.map([])
        with self.assertRaises(ValueError):
            threaded.map(["http://x/"])

    def test_several_batches(self):
        urls = [self.t + "/status/%d" % (200 + i % 3) for i in range(30)]
        p = pool.Pool.from_urls(urls, max_body=300)
        self.assertGreater(len(p.batches), 5)
        self.assertEqual(sum(r["accepted"] for r in p.receipts), 30)
        p.join_all(timeout=60)
        got = sorted(r.request_kwargs["url"] for r in p.responses())
        self.assertEqual(got, sorted(urls))
        self.assertEqual(list(p.responses()), [])

    def test_empty_pool(self):
        p = pool.Pool(job_queue=queue.Queue())
        p.join_all()
        self.assertIsNone(p.batch)
        self.assertEqual(p.batches, [])
        self.assertEqual((list(p.responses()), list(p.exceptions())), ([], []))

    def test_get_one_at_a_time(self):
        p = self.run_pool([{"url": self.t + "/status/200"}, {"url": self.t + "/status/202"}])
        a, b, c = p.get_response(), p.get_response(), p.get_response()
        self.assertEqual(sorted([a.status_code, b.status_code]), [200, 202])
        self.assertIsNone(c)
        self.assertIsNone(p.get_exception())


class FleetErrorsTest(unittest.TestCase):
    def setUp(self):
        self.t = target().url

    def test_bad_job_names_its_field(self):
        with self.assertRaises(FleetError) as cm:
            pool.Pool.from_urls([self.t + "/"], request_kwargs={"files": {"f": "x"}})
        e = cm.exception
        self.assertEqual((e.status, e.code, e.field, e.line), (400, "bad_request", "files", 1))

    def test_wrong_token(self):
        if not os.environ.get("REQFLEET_API_TOKEN"):
            self.skipTest("serve has no token")
        with self.assertRaises(FleetError) as cm:
            pool.Pool.from_urls([self.t + "/"], token="wrong-" + os.environ["REQFLEET_API_TOKEN"])
        self.assertEqual((cm.exception.status, cm.exception.code), (401, "unauthorized"))
        self.assertNotIn(os.environ["REQFLEET_API_TOKEN"], str(cm.exception))

    def test_unreachable(self):
        with self.assertRaises(FleetError) as cm:
            pool.Pool.from_urls([self.t + "/"], url="http://127.0.0.1:1")
        self.assertEqual(cm.exception.status, 0)
        self.assertIn("unreachable", str(cm.exception))

    def test_session_hooks_refused(self):
        for kw in ("initializer", "auth_generator", "session"):
            with self.assertRaises(TypeError):
                pool.Pool.from_urls([self.t + "/"], **{kw: lambda s: s})
        with self.assertRaises(ValueError):
            pool.Pool.from_urls([self.t + "/"], num_processes=0)

    def test_duplicate_ids(self):
        q = queue.Queue()
        q.put({"url": self.t + "/", "id": "a"})
        q.put({"url": self.t + "/", "id": "a"})
        with self.assertRaises(ValueError):
            pool.Pool(job_queue=q)


if __name__ == "__main__":
    unittest.main()
