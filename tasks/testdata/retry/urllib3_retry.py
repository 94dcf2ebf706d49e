"""Runs urllib3's own Retry over the cases on stdin and prints its decisions.

Input: {"now": Unix seconds, "cases": [...]}, the cases {"policy": <int or object of Retry's keyword
arguments>, "method": "GET", "tries": [{"error": "connect"|"read"|"other"}
or {"status": 503, "headers": {...}}]}. Output: for each case the list of
decisions, one per try until the first that is final:
{"again": bool, "after": seconds}. As urllib3's connectionpool.urlopen
uses Retry: increment on an error; is_retry, then increment, on a response;
then sleep's wait (Retry-After for a response when respected and > 0, else
get_backoff_time). An HTTP date in Retry-After is read against "now"
(time.time is set to it), as reqfleet's side reads it."""
import json
import sys
import time

import urllib3
from urllib3.exceptions import (ConnectTimeoutError, MaxRetryError, NewConnectionError,
                                ProtocolError, ReadTimeoutError, SSLError)
from urllib3.response import HTTPResponse
from urllib3.util.retry import Retry


def error(kind):
    if kind == "connect":
        return NewConnectionError(None, "Failed to establish a new connection")
    if kind == "connect_timeout":
        return ConnectTimeoutError(None, "connect timed out")
    if kind == "read":
        return ReadTimeoutError(None, "/", "Read timed out")
    if kind == "protocol":
        return ProtocolError("Connection aborted.")
    return SSLError("bad handshake")


def run(case):
    p = case["policy"]
    r = Retry.from_int(p) if isinstance(p, int) else Retry(**p)
    out = []
    for t in case["tries"]:
        method = case["method"]
        if "error" in t:
            try:
                r = r.increment(method, "/", error=error(t["error"]))
            except (MaxRetryError, ConnectTimeoutError, NewConnectionError, ReadTimeoutError,
                    ProtocolError, SSLError):
                out.append({"again": False, "after": 0})
                return out
            out.append({"again": True, "after": r.get_backoff_time()})
            continue
        resp = HTTPResponse(body=b"", status=t["status"], headers=t.get("headers", {}), preload_content=False)
        has_retry_after = bool(resp.headers.get("Retry-After"))
        if not r.is_retry(method, resp.status, has_retry_after):
            out.append({"again": False, "after": 0})
            return out
        try:
            r = r.increment(method, "/", response=resp)
        except MaxRetryError:
            out.append({"again": False, "after": 0})
            return out
        after = None
        if r.respect_retry_after_header:
            try:
                ra = r.get_retry_after(resp)
            except Exception:  # InvalidHeader: reqfleet backs off instead
                ra = None
            if ra:
                after = ra
        if after is None:
            after = r.get_backoff_time()
        out.append({"again": True, "after": after})
    return out


def main():
    given = json.load(sys.stdin)
    now = given["now"]
    time.time = lambda: now
    cases = given["cases"]
    json.dump({"version": urllib3.__version__, "results": [run(c) for c in cases]}, sys.stdout)


main()
