"""The command line the benchmarks share: the parser, ``--copy-to-docs``, the stack's options."""

from __future__ import annotations

import argparse
from collections.abc import Callable
from typing import Any


def bench_parser(
    module: str, doc: str | None, *, show_defaults: bool = True
) -> argparse.ArgumentParser:
    """``python -m bench.NAME``'s parser, described by the first paragraph of its docstring."""
    return argparse.ArgumentParser(
        prog=f"python -m {module}",
        description=doc.split("\n\n")[0] if doc else None,
        formatter_class=(
            argparse.ArgumentDefaultsHelpFormatter if show_defaults else argparse.HelpFormatter
        ),
    )


def add_copy_to_docs(parser: argparse.ArgumentParser, what: str = "the JSON") -> None:
    parser.add_argument("--copy-to-docs", action="store_true",
                        help=f"also copy {what} into docs/bench/")  # fmt: skip


def add_stack_options(
    parser: argparse.ArgumentParser,
    *,
    profile_type: Callable[[str], Any],
    profile_metavar: str,
    profile_help: str,
) -> None:
    """``--profile`` (py-spy during one step of the run) and the stack's ``--connections``."""
    parser.add_argument("--profile", type=profile_type, metavar=profile_metavar, help=profile_help)
    parser.add_argument("--connections", choices=["in-process", "http"], default="in-process",
                        help="the stack's --connections: in-process (its default) or http "
                        "(boto3 → the twin's @connections endpoint, as on AWS)")  # fmt: skip


def refuse_profiled_copy(parser: argparse.ArgumentParser, args: argparse.Namespace) -> None:
    if args.profile is not None and args.copy_to_docs:
        parser.error("a profiled run is perturbed by the sampler: do not copy it to docs")
