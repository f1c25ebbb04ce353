"""The churn oracle's worker process: ``python -m pintel.simulate.worker``, fed snapshots, returning their arrays.

Why a process: at 10M messages the oracle's Monte Carlo paths are a fifth of a run's CPU, and on two cores a
thread beside the simulating thread and the Parquet writer only trades GIL hand-offs (measured: ~20 % more
CPU, no shorter wall time). A process has its own interpreter, so the paths overlap the simulation for real.
Small runs stay in-process (``engine.ORACLE_PROCESS_FROM``): starting Python and NumPy costs more than it gives.

Protocol, on the worker's stdin/stdout: frames of an 8-byte little-endian length and a pickle. The first frame
to the worker is the :class:`~pintel.simulate.dynamics.World`; then ``(key, OracleJob)`` frames, each answered
by ``(key, True, (prob, upgrade))`` or ``(key, False, traceback)``. End of stdin ends the worker. Each job
carries its own generator (its state pickled with it), so the paths draw exactly the numbers they would
in-process and the truth files stay byte-identical.
"""

from __future__ import annotations

import itertools
import os
import pickle
import queue
import struct
import subprocess
import sys
import tempfile
import threading
import time
import traceback
from concurrent.futures import Future
from pathlib import Path
from typing import IO

from pintel.simulate.dynamics import World
from pintel.simulate.oracle import OracleJob

_LENGTH = struct.Struct("<Q")
WORKER = "churn oracle worker (python -m pintel.simulate.worker)"
#: How long the worker may go without answering while jobs wait before it is taken for stuck and killed. A job is
#: one snapshot's Monte Carlo paths, ~0.5 CPU s at 50 000 users; a thousand times that is a hang, not a busy box.
STALL_SECONDS = 600.0


def _write_frame(sink: IO[bytes], payload: object) -> None:
    data = pickle.dumps(payload, protocol=pickle.HIGHEST_PROTOCOL)
    sink.write(_LENGTH.pack(len(data)))
    sink.write(data)
    sink.flush()


def _read_frame(source: IO[bytes]) -> object | None:
    """The next frame's object, or None at end of stream (a frame cut short counts as the end)."""
    head = source.read(_LENGTH.size)
    if len(head) < _LENGTH.size:
        return None
    size = _LENGTH.unpack(head)[0]
    data = source.read(size)
    return pickle.loads(data) if len(data) == size else None


class OracleProcess:
    """Runs :class:`OracleJob` s in the worker process; ``submit`` returns a future of ``(prob, upgrade)``.

    A sender thread writes the jobs (so a full pipe never stalls the simulation) and a reader thread resolves
    the futures. If the worker dies, every pending future fails, and every later ``submit`` raises, with an error
    naming the worker, its exit code and the end of its stderr, so the simulation fails instead of waiting. A
    watchdog kills a worker that has answered nothing for ``stall_seconds`` while jobs wait (a stuck job), which
    fails them the same way, saying so.
    """

    def __init__(self, world: World, stall_seconds: float = STALL_SECONDS):
        root = str(Path(__file__).resolve().parents[2])  # this package's tree, whatever is installed
        env = {**os.environ, "PYTHONPATH": os.pathsep.join(p for p in (root, os.environ.get("PYTHONPATH")) if p)}
        self._stderr = tempfile.TemporaryFile()  # noqa: SIM115 -- lives as long as the worker; closed by shutdown
        self._proc = subprocess.Popen(
            # -P: no working directory on sys.path, so the worker imports this very package (from PYTHONPATH)
            # and not whatever ``pintel`` folder the run was started beside.
            [sys.executable, "-P", "-m", "pintel.simulate.worker"],
            stdin=subprocess.PIPE,
            stdout=subprocess.PIPE,
            stderr=self._stderr,
            env=env,
        )
        self._keys = itertools.count()
        self._futures: dict[int, Future] = {}
        self._lock = threading.Lock()
        self._error: RuntimeError | None = None
        self._stall_seconds = stall_seconds
        self._progress_at = time.monotonic()  # the last answer, or the submit that started a wait
        self._stalled = False
        self._ended = threading.Event()
        self._outbox: queue.SimpleQueue = queue.SimpleQueue()
        self._outbox.put(world)
        self._sender = threading.Thread(target=self._send, name="oracle-sender", daemon=True)
        self._reader = threading.Thread(target=self._read, name="oracle-reader", daemon=True)
        self._watchdog = threading.Thread(target=self._watch, name="oracle-watchdog", daemon=True)
        self._sender.start()
        self._reader.start()
        self._watchdog.start()

    @property
    def pid(self) -> int:
        return self._proc.pid

    def submit(self, job: OracleJob) -> Future:
        """Queue a job; raises at once if the worker has already died (the run fails at its next snapshot)."""
        future: Future = Future()
        with self._lock:
            if self._error is not None:
                raise self._error
            key = next(self._keys)
            if not self._futures:
                self._progress_at = time.monotonic()
            self._futures[key] = future
        self._outbox.put((key, job))
        return future

    def shutdown(self, cancel: bool = False) -> None:
        """Let the worker finish its jobs and exit (``cancel``: kill it now), and wait for it."""
        if cancel:
            self._proc.kill()
        self._outbox.put(None)
        self._reader.join()
        self._sender.join()
        self._watchdog.join()
        self._stderr.close()

    def _send(self) -> None:
        stdin = self._proc.stdin
        assert stdin is not None
        try:
            while (item := self._outbox.get()) is not None:
                _write_frame(stdin, item)
            stdin.close()
        except OSError:  # the worker is gone: the reader reports how
            pass

    def _read(self) -> None:
        stdout = self._proc.stdout
        assert stdout is not None
        try:
            while (frame := _read_frame(stdout)) is not None:
                key, ok, payload = frame  # type: ignore[misc]
                with self._lock:
                    future = self._futures.pop(key)
                    self._progress_at = time.monotonic()
                if ok:
                    future.set_result(payload)
                else:
                    future.set_exception(RuntimeError(f"{WORKER}, pid {self.pid}: a job failed\n{payload}"))
        finally:
            code = self._proc.wait()
            self._ended.set()
            self._stderr.seek(0)
            tail = self._stderr.read()[-2000:].decode(errors="replace")
            how = (
                f"killed after {self._stall_seconds:g} s without an answer while jobs waited (a stuck job)"
                if self._stalled
                else f"exited with code {code}"
            )
            with self._lock:
                self._error = RuntimeError(f"{WORKER}, pid {self.pid}, {how}\n{tail}")
                pending, self._futures = list(self._futures.values()), {}
            for future in pending:
                future.set_exception(self._error)

    def _watch(self) -> None:
        """Kill the worker once jobs have waited ``stall_seconds`` with no answer; the reader then fails them."""
        while not self._ended.wait(min(1.0, self._stall_seconds / 4)):
            with self._lock:
                stuck = bool(self._futures) and time.monotonic() - self._progress_at > self._stall_seconds
            if stuck:
                self._stalled = True
                self._proc.kill()
                return


def main() -> None:
    """The worker's loop: the world first, then one answer per job, until stdin ends."""
    result_fd = os.dup(1)
    os.dup2(2, 1)  # anything printed goes to stderr; fd 1's pipe carries only answers
    source, sink = sys.stdin.buffer, os.fdopen(result_fd, "wb")
    world = _read_frame(source)
    if not isinstance(world, World):
        raise SystemExit(f"{WORKER}: the first frame is not a World")
    while (frame := _read_frame(source)) is not None:
        key, job = frame  # type: ignore[misc]
        try:
            answer = (key, True, job.run(world))
        except Exception:  # reported to the simulation, which raises it
            answer = (key, False, traceback.format_exc())
        _write_frame(sink, answer)


if __name__ == "__main__":
    main()
