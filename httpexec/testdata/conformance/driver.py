#!/usr/bin/env python3
"""Conformance driver: runs jobs through requests, as requests_toolbelt's
Pool would (one requests.Session per job), and prints what came back.

stdin:  a JSON list of {"name": ..., "job": {requests.request's keyword
        arguments, "method" and "url" included}}
stdout: a JSON object, by name: {"status", "reason", "url", "history":
        [{"status", "reason", "url"}], "headers" (lower-cased names), "body"}
        or {"exception": the exception's class name}
With --user-agent it only prints requests' default User-Agent.
"""
import json
import sys

import requests


def run(job):
    kw = dict(job)
    method = kw.pop("method", "GET")
    url = kw.pop("url")
    if isinstance(kw.get("auth"), list):
        kw["auth"] = tuple(kw["auth"])
    if isinstance(kw.get("timeout"), list):
        kw["timeout"] = tuple(kw["timeout"])
    if isinstance(kw.get("params"), list):
        kw["params"] = [tuple(p) for p in kw["params"]]
    if isinstance(kw.get("data"), list):
        kw["data"] = [tuple(p) for p in kw["data"]]
    with requests.Session() as s:
        try:
            r = s.request(method, url, **kw)
        except requests.RequestException as e:
            return {"exception": type(e).__name__}
        return {
            "status": r.status_code,
            "reason": r.reason,
            "url": r.url,
            "history": [
                {"status": h.status_code, "reason": h.reason, "url": h.url}
                for h in r.history
            ],
            "headers": {k.lower(): v for k, v in r.headers.items()},
            "body": r.content.decode("utf-8", "replace"),
        }


def main():
    if sys.argv[1:] == ["--user-agent"]:
        print(requests.utils.default_user_agent())
        return
    out = {}
    for case in json.load(sys.stdin):
        out[case["name"]] = run(case["job"])
    json.dump(out, sys.stdout)


if __name__ == "__main__":
    main()
