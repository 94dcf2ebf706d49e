package rdb

import (
	_ "embed"
	"strings"

	"github.com/redis/go-redis/v9"
)

// Every Lua script of reqfleet, one file each under lua/, whose header is
// its KEYS/ARGV table (and, where it mirrors one of asynq's, which and how
// it differs). Each is loaded by go-redis' Script: EVALSHA, then EVAL when
// Redis lacks it; in a pipeline, EVAL alone. Redis gets them without
// their comment lines (newScript).
var (
	//go:embed lua/new_batch.lua
	newBatchLua string
	//go:embed lua/move_to_retrying.lua
	moveToRetryingLua string
	//go:embed lua/enqueue_many.lua
	enqueueManyLua string
	//go:embed lua/record_many.lua
	recordManyLua string
	//go:embed lua/record_new.lua
	recordNewLua string
	//go:embed lua/mark_started.lua
	markStartedLua string
	//go:embed lua/write_server_state.lua
	writeServerStateLua string
	//go:embed lua/fetch.lua
	fetchLua string
	//go:embed lua/requeue.lua
	requeueLua string
	//go:embed lua/archive.lua
	archiveLua string
	//go:embed lua/recorded_before.lua
	recordedBeforeLua string
	//go:embed lua/pop.lua
	popLua string
	//go:embed lua/inbox_take.lua
	inboxTakeLua string
	//go:embed lua/inbox_restamp.lua
	inboxRestampLua string
	//go:embed lua/inbox_reject.lua
	inboxRejectLua string
	//go:embed lua/inbox_renew.lua
	inboxRenewLua string
	//go:embed lua/inbox_release.lua
	inboxReleaseLua string
)

// The scripts, immutable after init (a Script holds its text and hash only).
var (
	newBatchScript         = newScript(newBatchLua)
	moveToRetryingScript   = newScript(moveToRetryingLua)
	enqueueManyScript      = newScript(enqueueManyLua)
	recordManyScript       = newScript(recordManyLua)
	recordNewScript        = newScript(recordNewLua)
	markStartedScript      = newScript(markStartedLua)
	writeServerStateScript = newScript(writeServerStateLua)
	fetchScript            = newScript(fetchLua)
	requeueScript          = newScript(requeueLua)
	archiveScript          = newScript(archiveLua)
	recordedBeforeScript   = newScript(recordedBeforeLua)
	popScript              = newScript(popLua)
	inboxTakeScript        = newScript(inboxTakeLua)
	inboxRestampScript     = newScript(inboxRestampLua)
	inboxRejectScript      = newScript(inboxRejectLua)
	inboxRenewScript       = newScript(inboxRenewLua)
	inboxReleaseScript     = newScript(inboxReleaseLua)
)

// scriptsByName are the scripts by their file's name without ".lua".
var scriptsByName = map[string]*redis.Script{
	"new_batch":          newBatchScript,
	"move_to_retrying":   moveToRetryingScript,
	"enqueue_many":       enqueueManyScript,
	"record_many":        recordManyScript,
	"record_new":         recordNewScript,
	"mark_started":       markStartedScript,
	"write_server_state": writeServerStateScript,
	"fetch":              fetchScript,
	"requeue":            requeueScript,
	"archive":            archiveScript,
	"recorded_before":    recordedBeforeScript,
	"pop":                popScript,
	"inbox_take":         inboxTakeScript,
	"inbox_restamp":      inboxRestampScript,
	"inbox_reject":       inboxRejectScript,
	"inbox_renew":        inboxRenewScript,
	"inbox_release":      inboxReleaseScript,
}

// Script is the script of lua/NAME.lua (nil if none), for tests that load
// it or watch for its hash.
func Script(name string) *redis.Script { return scriptsByName[name] }

// boolArg is a flag as the scripts take it in ARGV: "1" or "0".
func boolArg(b bool) string {
	if b {
		return "1"
	}
	return "0"
}

// newScript is the script of src as Redis gets it (scriptCode).
func newScript(src string) *redis.Script { return redis.NewScript(scriptCode(src)) }

// scriptCode is src with each line that is a comment alone left empty, so
// that an EVAL sends and hashes (SHA1, each call) the code only, and
// Redis' errors name the file's own lines.
func scriptCode(src string) string {
	lines := strings.SplitAfter(src, "\n")
	for i, l := range lines {
		if t := strings.TrimSpace(l); strings.HasPrefix(t, "--") && !strings.HasPrefix(t, "--[") {
			lines[i] = l[len(strings.TrimRight(l, "\n")):] // its newline, if any
		}
	}
	return strings.Join(lines, "")
}
