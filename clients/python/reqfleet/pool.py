"""requests_toolbelt's threaded Pool, run by a reqfleet fleet.

Switch with one import::

    from reqfleet import pool          # was: from requests_toolbelt.threaded import pool

    p = pool.Pool.from_urls(urls)      # the fleet: url=/token= or REQFLEET_URL/REQFLEET_API_TOKEN
    p.join_all()
    for response in p.responses():
        print(response.request_kwargs['url'], response.status_code)

A Pool sends its jobs to serve as one batch when it is made; the fleet's
workers run them (their sessions, not this process's threads); join_all()
waits until every job has its outcome; responses() and exceptions() yield
them, each once, as the toolbelt's generators drain its queues.
"""
import multiprocessing
import queue as _queue
import time
import uuid

from . import exceptions as _exc
from ._api import DEFAULT_MAX_BODY, Client
from .models import Response

__all__ = ["Pool", "ThreadResponse", "ThreadException"]


class Pool:
    """A batch of jobs on the fleet, with the toolbelt Pool's interface.

    :param job_queue: a queue.Queue (or any object with get_nowait) of
        dicts of requests' keyword arguments (method, url, params, headers,
        data, json, cookies, auth, timeout, allow_redirects; reqfleet's id
        and meta too); taken whole when the Pool is made.
    :param url: serve's address; default REQFLEET_URL.
    :param token: serve's token; default REQFLEET_API_TOKEN.
    :param queue: the fleet's queue; default serve's first.
    :param max_body: the largest POST to serve, in bytes (16 MiB; serve's
        --max-request-body is 32 MiB): more jobs go as several batches.
    :param num_processes: accepted for the toolbelt's sake (at least 1);
        the fleet's concurrency is its workers'.
    :param initializer, auth_generator, session: the toolbelt's session
        hooks: a fleet's sessions are its workers', so these are refused
        (set headers, auth and cookies in the jobs or on the workers).
    """

    def __init__(self, job_queue, initializer=None, auth_generator=None,
                 num_processes=None, session=None, url=None, token=None, queue=None,
                 max_body=DEFAULT_MAX_BODY):
        if num_processes is not None and num_processes < 1:
            raise ValueError("Number of processes should at least be 1.")
        for name, v in (("initializer", initializer), ("auth_generator", auth_generator), ("session", session)):
            if v is not None:
                raise TypeError(f"{name}: a fleet's sessions are its workers': set headers, auth and cookies in "
                                f"each job, or on the workers (reqfleet worker -H, --bearer-env, --basic-auth-env)")
        self._processes = num_processes or multiprocessing.cpu_count() or 1
        self._client = Client(url=url, token=token, queue=queue)
        self._kwargs = {}  # job id -> the dict given
        jobs = []
        while True:
            try:
                kw = job_queue.get_nowait()
            except _queue.Empty:
                break
            if not isinstance(kw, dict):
                raise TypeError(f"a job is a dict of requests' keyword arguments, not {type(kw).__name__}")
            job = dict(kw)
            job.setdefault("id", str(uuid.uuid4()))
            if job["id"] in self._kwargs:
                raise ValueError(f"job id {job['id']!r} is given twice")
            self._kwargs[job["id"]] = kw
            jobs.append(job)
        #: serve's receipts, one a batch, and the batches' ids
        self.receipts = self._client.enqueue(jobs, max_body=max_body) if jobs else []
        self.batches = [r["batch"] for r in self.receipts]
        self._seen = {}  # (batch, "results"|"exceptions") -> entries yielded

    @property
    def batch(self):
        """The batch's id (the first's, when the jobs went as several); None
        for no job."""
        return self.batches[0] if self.batches else None

    @classmethod
    def from_exceptions(cls, exceptions, **kwargs):
        """A Pool that sends again the jobs of these ThreadExceptions."""
        job_queue = _queue.Queue()
        for exc in exceptions:
            job_queue.put(exc.request_kwargs)
        return cls(job_queue=job_queue, **kwargs)

    @classmethod
    def from_urls(cls, urls, request_kwargs=None, **kwargs):
        """A Pool of GETs (or request_kwargs' method) of these URLs."""
        request_dict = {"method": "GET"}
        request_dict.update(request_kwargs or {})
        job_queue = _queue.Queue()
        for url in urls:
            job = request_dict.copy()
            job.update({"url": url})
            job_queue.put(job)
        return cls(job_queue=job_queue, **kwargs)

    def join_all(self, timeout=None):
        """Wait until every job has its outcome (FleetTimeout after timeout
        seconds; None: no limit)."""
        deadline = None if timeout is None else time.monotonic() + timeout
        for b in self.batches:
            left = None if deadline is None else max(deadline - time.monotonic(), 0)
            self._client.wait(b, timeout=left)

    def _kwargs_of(self, outcome):
        return self._kwargs.get(outcome.get("id"), outcome.get("request"))

    def _fresh(self, kind, read):
        """The entries of each batch not yielded before, oldest first."""
        for b in self.batches:
            key = (b, kind)
            for i, outcome in enumerate(read(b)):
                if i < self._seen.get(key, 0):
                    continue
                self._seen[key] = i + 1
                yield outcome

    def responses(self):
        """Yield the responses recorded so far, each once (ThreadResponse)."""
        for outcome in self._fresh("results", self._client.results):
            yield ThreadResponse(self._kwargs_of(outcome), Response(outcome))

    def exceptions(self):
        """Yield the exceptions recorded so far, each once (ThreadException)."""
        for outcome in self._fresh("exceptions", self._client.exceptions):
            info = outcome.get("exception") or {}
            exc = _exc.exception_class(info.get("type", ""))(info.get("message", ""))
            exc.outcome = outcome
            yield ThreadException(self._kwargs_of(outcome), exc)

    def get_response(self):
        """The next response, or None."""
        return next(self.responses(), None)

    def get_exception(self):
        """The next exception, or None."""
        return next(self.exceptions(), None)


class ThreadProxy:
    proxied_attr = None
    attrs = frozenset()

    def __getattr__(self, attr):
        """Proxy attribute accesses to the proxied object."""
        get = object.__getattribute__
        if attr not in self.attrs:
            return getattr(get(self, self.proxied_attr), attr)
        return get(self, attr)


class ThreadResponse(ThreadProxy):
    """A response, with the keyword arguments of its job: everything else
    is the Response's (status_code, headers, text, content, json(), ...)."""

    proxied_attr = "response"
    attrs = frozenset(["request_kwargs", "response"])

    def __init__(self, request_kwargs, response):
        self.request_kwargs = request_kwargs
        self.response = response


class ThreadException(ThreadProxy):
    """An exception, with the keyword arguments of its job: everything else
    is the exception's (message, args, ...)."""

    proxied_attr = "exception"
    attrs = frozenset(["request_kwargs", "exception"])

    def __init__(self, request_kwargs, exception):
        self.request_kwargs = request_kwargs
        self.exception = exception
