"""The exceptions of reqfleet's outcomes, named and nested as
``requests.exceptions``' are, so that code written against requests'
names (``except ConnectionError``, ``except Timeout``) works unchanged,
plus reqfleet's own (WorkerLost, WorkerCrashed, InvalidJob, DeniedAddress)
and FleetError, the fleet's API answering an error.

Standard library only: these are not requests' classes, they have the same
names and the same hierarchy.
"""
import json

__all__ = [
    "RequestException", "InvalidJSONError", "JSONDecodeError", "HTTPError",
    "ConnectionError", "ProxyError", "SSLError", "Timeout", "ConnectTimeout",
    "ReadTimeout", "URLRequired", "TooManyRedirects", "MissingSchema",
    "InvalidSchema", "InvalidURL", "InvalidHeader", "InvalidProxyURL",
    "ChunkedEncodingError", "ContentDecodingError", "StreamConsumedError",
    "RetryError", "UnrewindableBodyError",
    "FleetException", "WorkerLost", "WorkerCrashed", "InvalidJob", "DeniedAddress",
    "FleetError", "FleetTimeout", "exception_class",
]


class RequestException(IOError):
    """A job that got no response, as requests' RequestException.

    ``message`` is the worker's message; ``request`` and ``response`` are
    None (as requests leaves them when no request was prepared).
    """

    def __init__(self, *args, **kwargs):
        self.response = kwargs.pop("response", None)
        self.request = kwargs.pop("request", None)
        super().__init__(*args, **kwargs)

    @property
    def message(self):
        return str(self.args[0]) if self.args else ""


class InvalidJSONError(RequestException):
    """A JSON error occurred."""


class JSONDecodeError(InvalidJSONError, json.JSONDecodeError):
    """Couldn't decode the text into json."""

    def __init__(self, *args, **kwargs):
        json.JSONDecodeError.__init__(self, *args)
        InvalidJSONError.__init__(self, *self.args, **kwargs)


class HTTPError(RequestException):
    """An HTTP error occurred (raise_for_status)."""


class ConnectionError(RequestException):  # noqa: A001 (requests' name)
    """A Connection error occurred."""


class ProxyError(ConnectionError):
    """A proxy error occurred."""


class SSLError(ConnectionError):
    """An SSL error occurred."""


class Timeout(RequestException):
    """The request timed out."""


class ConnectTimeout(ConnectionError, Timeout):
    """The request timed out while trying to connect to the remote server."""


class ReadTimeout(Timeout):
    """The server did not send any data in the allotted amount of time."""


class URLRequired(RequestException):
    """A valid URL is required to make a request."""


class TooManyRedirects(RequestException):
    """Too many redirects."""


class MissingSchema(RequestException, ValueError):
    """The URL scheme (e.g. http or https) is missing."""


class InvalidSchema(RequestException, ValueError):
    """The URL scheme provided is either invalid or unsupported."""


class InvalidURL(RequestException, ValueError):
    """The URL provided was somehow invalid."""


class InvalidHeader(RequestException, ValueError):
    """The header value provided was somehow invalid."""


class InvalidProxyURL(InvalidURL):
    """The proxy URL provided is invalid."""


class ChunkedEncodingError(RequestException):
    """The server declared chunked encoding but sent an invalid chunk."""


class ContentDecodingError(RequestException):
    """Failed to decode response content."""


class StreamConsumedError(RequestException, TypeError):
    """The content for this response was already consumed."""


class RetryError(RequestException):
    """Custom retries logic failed."""


class UnrewindableBodyError(RequestException):
    """Requests encountered an error when trying to rewind a body."""


class FleetException(RequestException):
    """An outcome of reqfleet's own, no requests name fits."""


class WorkerLost(FleetException):
    """The workers holding the job were lost more times than asynq retries."""


class WorkerCrashed(FleetException):
    """The job's workers died --max-crashes times while running it."""


class InvalidJob(FleetException):
    """A queued payload that is not a job."""


class DeniedAddress(FleetException):
    """The worker refused the address (--deny-private); nothing was sent."""


class FleetError(Exception):
    """The fleet's HTTP API answered an error, or could not be reached.

    ``status`` is the HTTP status (0: no answer), ``code`` serve's error
    code (``not_found``, ``bad_request``, ...), ``line`` and ``field`` the
    job at fault when there is one. The token is never in the message.
    """

    def __init__(self, message, status=0, code="", line=0, field=""):
        super().__init__(message)
        self.status, self.code, self.line, self.field = status, code, line, field


class FleetTimeout(FleetError):
    """join_all(timeout=...) gave up before the batch was complete."""


_by_name = {name: cls for name, cls in globals().items()
            if isinstance(cls, type) and issubclass(cls, RequestException)}


def exception_class(name):
    """The class of an outcome's exception type: requests' name, or
    reqfleet's, or for a name neither has, a FleetException subclass of that
    name."""
    cls = _by_name.get(name)
    if cls is None:
        if not name.isidentifier():
            return FleetException
        cls = type(name, (FleetException,), {"__module__": __name__})
        _by_name[name] = cls
    return cls
