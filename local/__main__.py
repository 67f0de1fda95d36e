"""``python -m local --port PORT``: run the local stack in the foreground (see ``--help``)."""

from __future__ import annotations

import logging
import os
import sys

from .options import parse_options
from .stack import LocalStack


def main(argv: list[str] | None = None) -> int:
    options = parse_options(argv)
    logging.basicConfig(
        level=options.log_level, format="%(asctime)s %(levelname)s %(name)s: %(message)s"
    )
    try:
        LocalStack(options).run()
    except KeyboardInterrupt:
        pass
    except RuntimeError as exc:
        print(f"error: {exc}", file=sys.stderr, flush=True)
        return 1
    return 0


if __name__ == "__main__":
    code = main()
    sys.stdout.flush()
    sys.stderr.flush()
    # Every service is stopped by now; skip joining handler threads of turns cut off by the
    # stop (the interpreter would otherwise wait for them to finish streaming).
    os._exit(code)
