// Package reqfleet is requests_toolbelt's threaded Pool made distributed:
// HTTP request jobs in the shape of requests' keyword arguments go through
// Redis-backed asynq queues to fleets of workers, each with a pool of HTTP
// sessions; responses and exceptions land in separate Redis lists.
//
// Map does in one call what `reqfleet run` does: enqueue, work, wait, like
// threaded.map. The parts are in tasks (the job model), enqueuer, worker and
// outcomes (reading results, exceptions and progress).
package reqfleet
