"""Responses as the fleet recorded them, shaped as requests' Response."""
import base64
import datetime
import json
from collections.abc import Mapping, MutableMapping

from . import exceptions

__all__ = ["CaseInsensitiveDict", "Response"]


class CaseInsensitiveDict(MutableMapping):
    """A dict whose keys are matched whatever their case, as requests'
    ``response.headers``; it keeps the case last set for each key."""

    def __init__(self, data=None, **kwargs):
        self._store = {}
        self.update(data or {}, **kwargs)

    def __setitem__(self, key, value):
        self._store[key.lower()] = (key, value)

    def __getitem__(self, key):
        return self._store[key.lower()][1]

    def __delitem__(self, key):
        del self._store[key.lower()]

    def __iter__(self):
        return (k for k, _ in self._store.values())

    def __len__(self):
        return len(self._store)

    def lower_items(self):
        return ((k, v[1]) for k, v in self._store.items())

    def __eq__(self, other):
        if not isinstance(other, Mapping):
            return NotImplemented
        return dict(self.lower_items()) == dict(CaseInsensitiveDict(other).lower_items())

    def copy(self):
        return CaseInsensitiveDict(self._store.values())

    def __repr__(self):
        return str(dict(self.items()))


def _charset(content_type):
    for part in content_type.split(";")[1:]:
        k, _, v = part.strip().partition("=")
        if k.strip().lower() == "charset":
            return v.strip().strip("'\"") or None
    return None


class Response:
    """One response outcome. The attributes of requests' Response that the
    fleet records: status_code, reason, headers, url, content, text, json(),
    encoding, elapsed, history, ok, raise_for_status(); and reqfleet's own:
    id, batch, attempt, worker, finished_at, truncated (the body was cut at
    the worker's --max-body) and outcome (the entry as recorded)."""

    def __init__(self, outcome, history=False):
        self.outcome = outcome
        self.id = outcome.get("id")
        self.batch = outcome.get("batch")
        self.attempt = outcome.get("attempt")
        self.worker = outcome.get("worker")
        self.finished_at = outcome.get("finished_at")
        self.status_code = outcome.get("status_code")
        self.reason = outcome.get("reason", "")
        self.url = outcome.get("url", "")
        self.headers = CaseInsensitiveDict(outcome.get("headers") or {})
        self.truncated = bool(outcome.get("truncated"))
        body = outcome.get("body", "")
        if outcome.get("body_encoding") == "base64":
            self.content = base64.b64decode(body)
        else:
            self.content = body.encode("utf-8")  # the worker keeps a body as text when it is UTF-8
        self.elapsed = datetime.timedelta(milliseconds=outcome.get("elapsed_ms") or 0)
        self.history = [] if history else [Response(h, history=True) for h in outcome.get("history") or []]
        ct = self.headers.get("Content-Type", "")
        self.encoding = _charset(ct)
        if self.encoding is None and ct.lower().startswith("text/"):
            self.encoding = "ISO-8859-1"  # requests' default for text/*
        self.request = None

    @property
    def text(self):
        """The body decoded as requests decodes it: with the charset of the
        Content-Type (ISO-8859-1 for text/* without one), else UTF-8;
        what does not decode is replaced."""
        try:
            return self.content.decode(self.encoding or "utf-8", "replace")
        except LookupError:
            return self.content.decode("utf-8", "replace")

    def json(self, **kwargs):
        """The body parsed as JSON; JSONDecodeError (a ValueError) if not."""
        try:
            return json.loads(self.text, **kwargs)
        except json.JSONDecodeError as e:
            raise exceptions.JSONDecodeError(e.msg, e.doc, e.pos)

    @property
    def ok(self):
        try:
            self.raise_for_status()
        except exceptions.HTTPError:
            return False
        return True

    @property
    def is_redirect(self):
        return "location" in self.headers and self.status_code in (301, 302, 303, 307, 308)

    def raise_for_status(self):
        """HTTPError for a 4xx or 5xx status, with requests' message."""
        if 400 <= self.status_code < 500:
            kind = "Client Error"
        elif 500 <= self.status_code < 600:
            kind = "Server Error"
        else:
            return
        raise exceptions.HTTPError(f"{self.status_code} {kind}: {self.reason} for url: {self.url}", response=self)

    def __bool__(self):
        return self.ok

    def __repr__(self):
        return f"<Response [{self.status_code}]>"
