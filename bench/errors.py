"""The one user-facing error type (after asv's ``UserError``).

Raised for anything the user can fix: bad CLI options, bad workload files, bad results
folders, no engine. The CLI catches it once, prints ``error: ...`` and exits with
``exit_code`` (2 for usage errors, 1 for failures). Bugs are not UserErrors and keep
their traceback.
"""


class UserError(Exception):
    """A problem the user can fix; ``str(err)`` is a one-line message."""

    exit_code = 1


class UsageError(UserError):
    """Bad input: options, workload files, results files."""

    exit_code = 2
