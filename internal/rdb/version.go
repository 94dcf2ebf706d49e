package rdb

import (
	"log/slog"
	"runtime/debug"
)

// AsynqVerified is the asynq version whose Redis layout and scripts this
// package's were verified against (asynqkeys.go, message.go, lua/).
const AsynqVerified = "v0.26.0"

// asynqModule is asynq's module path.
const asynqModule = "github.com/hibiken/asynq"

// The sha256 of asynq v0.26.0's scripts that lua/ mirrors, as they appear
// in its internal/rdb/rdb.go (the text between the backquotes of
// redis.NewScript). TestAsynqScriptsUnchanged hashes them from the module
// cache: when they differ, asynq changed what reqfleet writes in its
// place, and the layout must be verified again before these move.
var asynqScriptSHA256 = map[string]string{
	"dequeueCmd":          "1f7fba789b45017be8b4ccf2a515bb6b120b9777b98b7629d81437c07fc539e7", // fetch.lua
	"doneCmd":             "4062f1bb0231c71fc0e98618ad6c95ba927130432485186fe4f2deffd8989bcc", // record_many.lua, record_new.lua, recorded_before.lua
	"requeueCmd":          "941994866354109f7fd0d055d3628a43beba2ef7458ee11fc250de44a375d0bb", // requeue.lua
	"archiveCmd":          "90432f7f5677d4c83db516b7c397f4c1b0ed6abec29ed7045725fffb1d195285", // archive.lua
	"enqueueCmd":          "e21695f99889155d0a4e755b794236f941cc009adde6efeebd4943ede949f7d9", // enqueue_many.lua
	"writeServerStateCmd": "e419781905ade0f2f93b3005891f7f7fbc58230f53fca9ee8dcad0d06f6f5cd9", // write_server_state.lua
	"retryCmd":            "5549a132742f191e254245959d969df1a1bbb9b17b0d42ea49c94e6b7bf93853", // retry.lua
	"forwardCmd":          "15e4ae62baef7cc76a3a74e550b6a6eb1a161de21be06d4150e36a53339587c1", // forward.lua
}

// LinkedAsynq is the version of asynq linked into this binary, as its
// build info records it; known is false when the build info does not list
// asynq (test binaries record no dependencies, nor does a binary that does
// not link asynq). A replaced asynq is its replacement's version, "" for a
// directory.
func LinkedAsynq() (version string, known bool) {
	bi, ok := debug.ReadBuildInfo()
	if !ok {
		return "", false
	}
	for _, m := range bi.Deps {
		if m.Path != asynqModule {
			continue
		}
		if m.Replace != nil {
			return m.Replace.Version, true
		}
		return m.Version, true
	}
	return "", false
}

// LayoutVerified reports the linked asynq version and whether the layout
// was verified against it (AsynqVerified). When it was not, the enqueue
// fast path and the fetcher must not write asynq's keys: use asynq's own
// Client and processor. A binary whose build info does not list asynq (a
// test binary) is taken as linking go.mod's asynq, which
// TestAsynqScriptsUnchanged checks: ok, with linked "".
func LayoutVerified() (linked string, ok bool) {
	linked, known := LinkedAsynq()
	return linked, !known || VerifiedFor(linked)
}

// LayoutMismatch reports whether the caller must fall back to asynq's own
// code: verified (LayoutVerified when nil) says the linked asynq is not
// the one the layout was verified against. It then logs one warning, when
// log is not nil: that the layout of what (e.g. "the fetcher's") was not
// verified for the linked asynq, and fallback (what the caller does
// instead).
func LayoutMismatch(verified func() (string, bool), log *slog.Logger, what, fallback string) bool {
	if verified == nil {
		verified = LayoutVerified
	}
	linked, ok := verified()
	if ok {
		return false
	}
	if log != nil {
		log.Warn("linked asynq is not the version "+what+" Redis layout was verified against; "+fallback,
			"linked", linked, "verified", AsynqVerified)
	}
	return true
}

// VerifiedFor reports whether asynq version linked is AsynqVerified.
func VerifiedFor(linked string) bool { return linked == AsynqVerified }
