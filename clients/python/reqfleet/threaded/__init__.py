"""requests_toolbelt.threaded's map, run by a reqfleet fleet::

    from reqfleet import threaded      # was: from requests_toolbelt import threaded

    responses, exceptions = threaded.map(requests_list)

``from reqfleet.threaded import pool`` is reqfleet.pool.
"""
import queue

from .. import pool

__all__ = ["map", "pool"]


def map(requests, **kwargs):  # noqa: A001 (the toolbelt's name)
    """Send the jobs (dicts of requests' keyword arguments) as one batch,
    wait for every outcome, and return (responses, exceptions) generators.
    kwargs go to pool.Pool (url=, token=, queue=, ...)."""
    if not (requests and all(isinstance(r, dict) for r in requests)):
        raise ValueError('map expects a list of dictionaries.')
    job_queue = queue.Queue()
    for request in requests:
        job_queue.put(request)
    kwargs['job_queue'] = job_queue
    threadpool = pool.Pool(**kwargs)
    threadpool.join_all()
    return threadpool.responses(), threadpool.exceptions()
