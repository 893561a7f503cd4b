"""The one error type a user sees: a single line naming the thing and the fix."""

EXIT_SOME_FAILED = 1  # several inputs, some of them refused or failed
EXIT_BAD_INPUT = 2
EXIT_SOURCE_LOST = 3
EXIT_INTERRUPTED = 130  # 128 + SIGINT, as shells report it
EXIT_TERMINATED = 143  # 128 + SIGTERM


class UserError(Exception):
    """Bad input from the user; the CLI prints it as one line and exits with `exit_code`."""

    def __init__(self, message: str, exit_code: int = EXIT_BAD_INPUT):
        super().__init__(message)
        self.exit_code = exit_code
