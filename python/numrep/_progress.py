"""_progress.py -- progress of the long library calls (search, calibrate) in
Python: the C job calls back after each batch / evaluation; this turns the
call into progress(phase, done, total), or, for progress=True, into the
command line's log lines on stderr ("numrep: PHASE: D/T after S s wall",
cli_progress.c's format) at most every 10 s ($NUMREP_PROGRESS_SECONDS, as
the command line) and at the end of a phase that printed one.  An exception raised by the callback is kept and
raised once the C call returns (ctypes cannot carry it through C)."""
import ctypes
import os
import sys
import time

# runtime/study/search.h nr_search_progress_fn, runtime/study/eval.h nr_eval_progress_fn
SEARCH_FN = ctypes.CFUNCTYPE(None, ctypes.c_void_p, ctypes.c_char_p, ctypes.c_int64,
                             ctypes.c_int64)
EVAL_FN = ctypes.CFUNCTYPE(None, ctypes.c_void_p, ctypes.c_int64, ctypes.c_int64)


class StderrProgress:
    """progress=True: the command line's non-terminal lines on stderr."""

    def __init__(self, interval=None, stream=None):
        if interval is None:
            try:
                interval = float(os.environ.get("NUMREP_PROGRESS_SECONDS", "10"))
            except ValueError:
                interval = 10.0
            interval = interval if 0 <= interval <= 86400 else 10.0
        self.interval, self.stream = interval, stream or sys.stderr
        self.phase, self.t0, self.last, self.lines = None, 0.0, 0.0, 0

    def __call__(self, phase, done, total):
        t = time.monotonic()
        if phase != self.phase:
            self.phase, self.t0, self.last, self.lines = phase, t, t, 0
        if (t - self.last < self.interval) if done < total else not self.lines:
            return
        self.last = t
        el = t - self.t0
        line = "numrep: %s: %d/%d after %.0f s wall" % (phase, done, total, el)
        if done < total and done:
            eta = el * (total - done) / done
            line += ", about %d:%02d to go" % (eta // 60, eta % 60)
        print(line, file=self.stream, flush=True)
        self.lines += 1


class Callback:
    """The C callback for progress (None, True or a callable(phase, done,
    total)); .c is what to pass (NULL: no progress), .check() re-raises
    what the callable raised."""

    def __init__(self, progress, phase=None):
        self.error = None
        if progress is None or progress is False:  # a NULL function pointer
            self.fn, self.c = None, (SEARCH_FN if phase is None else EVAL_FN)()
            return
        if progress is True:
            progress = StderrProgress()
        if not callable(progress):
            raise TypeError("progress must be None, True or a callable(phase, done, total), "
                            "got %r" % (progress,))
        self.fn = progress
        if phase is None:
            self.c = SEARCH_FN(lambda ctx, ph, d, t: self._call(ph.decode(), d, t))
        else:
            self.c = EVAL_FN(lambda ctx, d, t: self._call(phase, d, t))

    def _call(self, phase, done, total):
        if self.error is None:
            try:
                self.fn(phase, done, total)
            except BaseException as ex:  # noqa: B902 -- re-raised by check()
                self.error = ex

    def check(self):
        if self.error is not None:
            raise self.error
