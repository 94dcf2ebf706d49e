#!/bin/sh
# Peak RSS of one worker (-c 16) under the hostile set of issue 10. Needs
# redis-server; run from the repository root. Everything binds 127.0.0.1.
# Usage: httpexec/testdata/hostile/measure.sh [REQFLEET_BINARY]
set -eu
BIN=${1:-/tmp/reqfleet-measure}
DIR=$(mktemp -d)
PORT=${PORT:-26391}
[ -n "${1:-}" ] || go build -o "$BIN" ./cmd/reqfleet
go build -o "$DIR/hostile" ./httpexec/testdata/hostile
redis-server --bind 127.0.0.1 --port "$PORT" --save '' --appendonly no --dir "$DIR" >"$DIR/redis.log" 2>&1 &
REDIS=$!
"$DIR/hostile" -for 15m >"$DIR/url" 2>"$DIR/hostile.log" &
HOSTILE=$!
WORKER=
cleanup() { kill $WORKER $HOSTILE $REDIS 2>/dev/null || true; }
trap cleanup EXIT
for _ in $(seq 50); do [ -s "$DIR/url" ] && redis-cli -p "$PORT" ping >/dev/null 2>&1 && break; sleep 0.2; done
URL=$(cat "$DIR/url")
export REQFLEET_REDIS=redis://127.0.0.1:$PORT
# The issue's hostile set; the *cap kinds are as hostile but within the
# default header block cap (256 KiB), so that the other caps are what
# holds with the defaults too.
KINDS=${KINDS:-"cookies ce5 ce6 redir9m redir900k cookiescap ce4 redircap"}
has() { case " $KINDS " in *" $1 "*) return 0 ;; esac; return 1; }
i=0
while [ $i -lt 150 ]; do
	has cookies && echo "{\"url\": \"$URL/cookies?job=$i\", \"timeout\": 60}"
	has cookiescap && echo "{\"url\": \"$URL/cookies?job=c$i&n=200\", \"timeout\": 60}"
	if [ $i -lt 16 ]; then
		has ce5 && echo "{\"url\": \"$URL/ce?n=100000\", \"timeout\": 60}"
		has ce6 && echo "{\"url\": \"$URL/ce?n=1000000\", \"timeout\": 60}"
		has redir9m && echo "{\"url\": \"$URL/redir?hop=0&lines=1&size=9000000\", \"timeout\": 60}"
		has ce4 && echo "{\"url\": \"$URL/ce?n=10000\", \"timeout\": 60}"
		has redircap && echo "{\"url\": \"$URL/redir?hop=0&lines=4&size=50000\", \"timeout\": 60}"
		has redir900k && echo "{\"url\": \"$URL/redir?hop=0&lines=15&size=60000\", \"timeout\": 60}"
	fi
	i=$((i + 1))
done >"$DIR/jobs.jsonl"
"$BIN" worker -c 16 --name measure ${WORKER_FLAGS:-} >"$DIR/worker.log" 2>"${WORKER_STDERR:-$DIR/worker.err}" &
WORKER=$!
START=$(date +%s)
B=$("$BIN" enqueue "$DIR/jobs.jsonl")
timeout 600 "$BIN" wait --quiet "$B"
END=$(date +%s)
echo "jobs: $(wc -l <"$DIR/jobs.jsonl"), $((END - START))s"
grep -E 'VmHWM|VmRSS' /proc/$WORKER/status
"$BIN" stats 2>/dev/null | head -20 || true
"$BIN" exceptions --batch "$B" 2>/dev/null | sed 's/.*"exception":{"type":"\([A-Za-z]*\)".*/\1/' | sort | uniq -c
"$BIN" results --batch "$B" 2>/dev/null | awk '{ n++; s += length($0); if (length($0) > m) m = length($0) } END { print n " results, largest " m " bytes, all " s " bytes" }'
