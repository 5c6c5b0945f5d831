"""How the programs run safely: atomic writes, stop requests, user errors, the CLI runner.

- ``atomic``: files written whole or not at all.
- ``stop``: Ctrl-C and SIGTERM as a request honoured between steps, never inside TensorFlow.
- ``errors``: ``UserError``, the one exception a user can act on.
- ``cli``: what every command-line tool shares: quiet start-up, one-line errors, exit codes.

Nothing is imported here: ``runtime.cli`` sets TensorFlow's environment when it is imported,
which only the tools should do.
"""
