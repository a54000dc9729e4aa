import os
import sys

from training.cli import main

try:
    code = main()
    sys.stdout.flush()  # inside the try: a pipe closed early fails here, not in the exit-time flush
except BrokenPipeError:
    # The reader of stdout went away (`... --json | head`): no traceback. As the Python docs advise
    # (signal module, "Note on SIGPIPE"), point stdout at devnull so the final flush cannot fail too.
    os.dup2(os.open(os.devnull, os.O_WRONLY), sys.stdout.fileno())
    code = 1
sys.exit(code)
