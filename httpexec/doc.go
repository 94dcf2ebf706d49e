// Package httpexec sends one reqfleet job's HTTP request with requests'
// semantics and turns what came back into exactly one outcome: a
// *tasks.Response or a *tasks.Exception with requests' exception names.
//
// A Session is one HTTP client and cookie jar (NewSession), never used by
// two jobs at once; an Executor runs jobs on sessions (Executor.Do). The
// package knows nothing of queues or Redis: it imports only tasks, and the
// worker package runs it on jobs it takes from Redis.
package httpexec
