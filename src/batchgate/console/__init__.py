"""The client side of the `batchgate` command: submit, watch, list, show, cancel, demo.

Everything here talks to a running server through the official `openai` SDK, exactly as a user's
own code would; nothing reaches into the database. `parser` wires the subcommands into the CLI.
"""
