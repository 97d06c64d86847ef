"""Imported last in the worker's forkserver, after ``rnnviz.serve.tasks`` (and so TensorFlow).

Two things make each forked worker, and the forkserver itself, hold less memory:

- Freezing the objects that exist now (TensorFlow's ~350,000) out of the garbage collector keeps
  each forked worker's collections from writing to their pages, which would copy them into every
  worker process: about 45 MB less of each worker's own memory, measured.
- :func:`drop_file_pages`: importing TensorFlow reads ~340 MB of its libraries' pages into the
  forkserver, which then only forks. A fork does not copy a file mapping's page table (the
  child faults in, from the page cache, only the pages it reads: ~70 MB for a training), so
  those pages serve no worker; unmapped, they stay in the page cache (reclaimable) instead of
  counting as the forkserver's resident memory.
"""

from __future__ import annotations

import ctypes
import gc
import re
import sys

MADV_DONTNEED = 4  # linux/mman.h
_MAPPING = re.compile(r"^([0-9a-f]+)-([0-9a-f]+) (\S{4}) \S+ \S+ \d+\s*(.*)$")


def clean_file_mappings(smaps: str) -> list[tuple[int, int, str]]:
    """(start, end, path) of the mappings in ``smaps`` (the text of ``/proc/PID/smaps``) whose
    resident pages may be dropped and read again from their file unchanged: mapped from a file
    that still exists, private and not writable, and with no anonymous (copied-on-write) page.
    """
    found: list[tuple[int, int, str]] = []
    current: list | None = None  # [start, end, path, droppable, rss kB, anonymous kB]
    for line in smaps.splitlines():
        head = _MAPPING.match(line)
        if head:
            if current is not None and current[3] and current[4] and not current[5]:
                found.append((current[0], current[1], current[2]))
            start, end, perms, path = head.groups()
            droppable = (
                path.startswith("/")
                and not path.endswith("(deleted)")
                and perms[1] == "-"
                and perms[3] == "p"
            )
            current = [int(start, 16), int(end, 16), path, droppable, 0, 0]
        elif current is not None and line.startswith(("Rss:", "Anonymous:")):
            current[4 if line.startswith("Rss:") else 5] = int(line.split()[1])
    if current is not None and current[3] and current[4] and not current[5]:
        found.append((current[0], current[1], current[2]))
    return found


def drop_file_pages() -> int:
    """Unmap this process's resident pages of read-only file mappings (``madvise`` with
    ``MADV_DONTNEED``): a later read faults them in again from the page cache, unchanged.
    Returns the bytes of mappings advised (0 where this is not Linux with glibc)."""
    if not sys.platform.startswith("linux"):
        return 0
    try:
        smaps = open("/proc/self/smaps").read()
        libc = ctypes.CDLL("libc.so.6", use_errno=True)
    except OSError:
        return 0
    madvise = libc.madvise
    madvise.argtypes = (ctypes.c_void_p, ctypes.c_size_t, ctypes.c_int)
    madvise.restype = ctypes.c_int
    advised = 0
    for start, end, _ in clean_file_mappings(smaps):
        if madvise(start, end - start, MADV_DONTNEED) == 0:
            advised += end - start
    return advised


gc.freeze()
drop_file_pages()
