"""The one error type a user sees: a single line naming the thing and the fix."""

EXIT_BAD_INPUT = 2


class UserError(Exception):
    """Bad input from the user; the CLI prints it as one line and exits with `exit_code`."""

    def __init__(self, message: str, exit_code: int = EXIT_BAD_INPUT):
        super().__init__(message)
        self.exit_code = exit_code
