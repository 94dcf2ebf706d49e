package rdb

import (
	_ "embed"

	"github.com/redis/go-redis/v9"
)

// Every Lua script of reqfleet, one file each under lua/, whose header is
// its KEYS/ARGV table (and, where it mirrors one of asynq's, which and how
// it differs). Each is loaded by go-redis' Script: EVALSHA, then EVAL when
// Redis lacks it.
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
	newBatchScript         = redis.NewScript(newBatchLua)
	moveToRetryingScript   = redis.NewScript(moveToRetryingLua)
	enqueueManyScript      = redis.NewScript(enqueueManyLua)
	recordManyScript       = redis.NewScript(recordManyLua)
	recordNewScript        = redis.NewScript(recordNewLua)
	markStartedScript      = redis.NewScript(markStartedLua)
	writeServerStateScript = redis.NewScript(writeServerStateLua)
	fetchScript            = redis.NewScript(fetchLua)
	requeueScript          = redis.NewScript(requeueLua)
	archiveScript          = redis.NewScript(archiveLua)
	recordedBeforeScript   = redis.NewScript(recordedBeforeLua)
	popScript              = redis.NewScript(popLua)
	inboxTakeScript        = redis.NewScript(inboxTakeLua)
	inboxRestampScript     = redis.NewScript(inboxRestampLua)
	inboxRejectScript      = redis.NewScript(inboxRejectLua)
	inboxRenewScript       = redis.NewScript(inboxRenewLua)
	inboxReleaseScript     = redis.NewScript(inboxReleaseLua)
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
