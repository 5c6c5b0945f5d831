"""One-line reasons for failed network and file operations, worded the same everywhere.

A download fails in many ways (a host not found, a timeout, an HTTP status, a full disk) and
the user should see each as one short line, never a traceback or a nested exception's repr.
Fetching (``data/http_download.py``), unpacking (``data/archives.py``) and the dataset driver
(``data/download.py``) all word their errors through these two functions.
"""

from __future__ import annotations

import socket
import urllib.error


def one_line(text) -> str:
    return " ".join(str(text).split())


def failure_reason(error: BaseException, timeout: float) -> str:
    """What went wrong, in a few words: ``HTTP 404 Not Found``, ``no answer within 30 s``."""
    if isinstance(error, urllib.error.HTTPError):
        return f"HTTP {error.code} {error.reason}"
    if isinstance(error, urllib.error.URLError):
        if isinstance(error.reason, BaseException):
            return failure_reason(error.reason, timeout)
        return one_line(error.reason)
    if isinstance(error, socket.gaierror):
        return f"host name not found ({one_line(error.strerror or error)})"
    if isinstance(error, TimeoutError | socket.timeout):
        return f"no answer within {timeout:g} s"
    if isinstance(error, ConnectionRefusedError):
        return "connection refused"
    if isinstance(error, OSError) and error.strerror:
        return one_line(error.strerror)
    return one_line(error) or type(error).__name__
