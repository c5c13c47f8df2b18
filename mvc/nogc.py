"""Pause Python's cyclic garbage collector around bulk work, as Mercurial's
``util.nogc`` does for its dirstate.

The collector runs every 700 net container allocations and, now and then,
walks every container object alive.  A log of 20,000 small files allocates a
few objects per file (entries, pointers, stat-cache rows, tree entries) and
keeps most of them: the collector ran 553-561 times per log, for 0.27-0.36 s
of a ~2.8 s log (timed with ``gc.callbacks``, 3 logs).  That work finds
nothing: a log leaves ~8 objects in reference cycles (a recursive closure).  Refcounting still frees everything else at once, so
memory does not grow while the collector waits.  The pause is process-wide:
other threads of the caller get no cyclic collection for its duration.
"""
from __future__ import annotations

import functools
import gc


def nogc(fn):
    """Run ``fn`` with the cyclic collector off; restore its state after (nests)."""
    @functools.wraps(fn)
    def paused(*args, **kwargs):
        was_on = gc.isenabled()
        gc.disable()
        try:
            return fn(*args, **kwargs)
        finally:
            if was_on:
                gc.enable()
    return paused
