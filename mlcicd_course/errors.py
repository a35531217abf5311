"""Errors that the command line turns into exit codes and one-line messages."""


class UserInputError(Exception):
    """Bad usage or unreadable input: the CLI prints the message and exits 2.

    The message names what is wrong and where (a path, a column, a cell), in one line.
    """
