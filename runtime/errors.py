"""The one exception type a user can act on.

Libraries raise ``UserError`` for problems the user can fix (a missing file, an unknown
dataset name, an image that does not decode). The command-line tools print its message as a
single line and exit non-zero, instead of a traceback. Everything else is a bug and keeps its
traceback.
"""


class UserError(Exception):
    """A problem with the user's input or environment, explained in one line.

    ``end_at_once``: after this error the process ends without the interpreter's teardown (see
    ``runtime.cli.end_at_once``), for errors after which that teardown is itself broken.
    """

    end_at_once = False
