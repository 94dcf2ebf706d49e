"""serve's HTTP API: enqueue a batch, read its progress and its outcomes."""
import json
import os
import time
import urllib.error
import urllib.parse
import urllib.request

from .exceptions import FleetError, FleetTimeout

DEFAULT_TIMEOUT = 60.0  # seconds, one HTTP call to serve
DEFAULT_MAX_BODY = 16 << 20  # bytes of one POST /v1/jobs


class Client:
    """One fleet: serve's base URL, its token and the queue.

    url and token default to REQFLEET_URL and REQFLEET_API_TOKEN.
    """

    def __init__(self, url=None, token=None, queue=None, timeout=DEFAULT_TIMEOUT):
        url = url or os.environ.get("REQFLEET_URL")
        if not url:
            raise FleetError("no fleet: pass url= or set REQFLEET_URL to serve's address (http://host:8080)")
        if "://" not in url:
            url = "http://" + url
        self.url = url.rstrip("/")
        self._token = token if token is not None else os.environ.get("REQFLEET_API_TOKEN", "")
        self.queue = queue
        self.timeout = timeout

    def __repr__(self):
        return f"<reqfleet.Client {self.url} queue={self.queue or 'default'}>"  # never the token

    def _open(self, method, path, query=None, body=None, ctype=None):
        q = dict(query or {})
        if self.queue:
            q["queue"] = self.queue
        u = self.url + path + ("?" + urllib.parse.urlencode(q) if q else "")
        req = urllib.request.Request(u, data=body, method=method)
        if self._token:
            req.add_header("Authorization", "Bearer " + self._token)
        if ctype:
            req.add_header("Content-Type", ctype)
        req.add_header("Accept", "application/json")
        try:
            return urllib.request.urlopen(req, timeout=self.timeout)
        except urllib.error.HTTPError as e:
            with e:
                raw = e.read(1 << 20)
            try:
                err = json.loads(raw)
            except ValueError:
                err = {}
            if not isinstance(err, dict):
                err = {}
            raise FleetError(f"{method} {path}: {e.code}: {err.get('error') or raw[:200].decode('utf-8', 'replace')}",
                             status=e.code, code=err.get("code", ""), line=err.get("line", 0),
                             field=err.get("field", "")) from None
        except (urllib.error.URLError, OSError) as e:
            reason = getattr(e, "reason", e)
            raise FleetError(f"{method} {path}: serve at {self.url} unreachable: {reason}") from None

    def _json(self, method, path, query=None, body=None, ctype=None):
        with self._open(method, path, query, body, ctype) as resp:
            return json.load(resp)

    def enqueue(self, jobs, max_body=DEFAULT_MAX_BODY):
        """POST the jobs (dicts with an id each) as batches of max_body bytes
        at most (serve's --max-request-body is 32 MiB); the receipts, in order."""
        receipts, body = [], []
        size = 0
        for j in jobs:
            line = (json.dumps(j, separators=(",", ":")) + "\n").encode("utf-8")
            if body and size + len(line) > max_body:
                receipts.append(self._post(b"".join(body)))
                body, size = [], 0
            body.append(line)
            size += len(line)
        if body:
            receipts.append(self._post(b"".join(body)))
        return receipts

    def _post(self, body):
        return self._json("POST", "/v1/jobs", body=body, ctype="application/x-ndjson")

    def batch(self, batch):
        return self._json("GET", "/v1/batches/" + urllib.parse.quote(batch, safe=""))

    def wait(self, batch, timeout=None, every=0.05, most=1.0):
        """Poll the batch until every job has its outcome; FleetTimeout after
        timeout seconds (None: no limit). A 503 (Redis away) is polled
        through."""
        deadline = None if timeout is None else time.monotonic() + timeout
        while True:
            try:
                st = self.batch(batch)
                if st.get("complete"):
                    return st
            except FleetError as e:
                if e.status != 503:
                    raise
                st = None
            if deadline is not None and time.monotonic() >= deadline:
                done = f"{st['done']}/{st['expected']} done" if st else "Redis away"
                raise FleetTimeout(f"batch {batch}: {done} after {timeout}s; gave up (timeout)")
            time.sleep(every)
            every = min(every * 2, most)

    def results(self, batch):
        """The batch's responses, oldest first, streamed (JSON dicts)."""
        with self._open("GET", "/v1/results", {"batch": batch, "kind": "results"}) as resp:
            for line in resp:
                line = line.strip()
                if line:
                    yield json.loads(line)

    def exceptions(self, batch, cursor=0, limit=1000):
        """The batch's exceptions, oldest first, page by page (JSON dicts),
        from cursor."""
        while True:
            page = self._json("GET", "/v1/exceptions", {"batch": batch, "cursor": cursor, "limit": limit})
            for e in page["exceptions"]:
                yield e
            cursor = page["next"]
            if not page["more"]:
                return

    def job(self, job_id, batch=None):
        q = {"batch": batch} if batch else None
        return self._json("GET", "/v1/jobs/" + urllib.parse.quote(job_id, safe=""), q)
