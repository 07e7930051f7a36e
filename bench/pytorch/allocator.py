"""Keeps glibc's malloc from handing freed memory back to the kernel, for the PyTorch side of
every benchmark. PyTorch's CPU allocator is plain malloc/free: with glibc's defaults each
training step's large activations are mapped and unmapped again, and every page is faulted in
anew. On the 2-core machines these benchmarks run on, that made half of PyTorch's CPU time
system time (airbench94's step at batch 512: 95-110 images/s, half of it in the kernel; with
this module at batch 1024: 368 images/s, 4.4 s of 24.7 s in the kernel; docs/perf.md). kestrel keeps its own pools and is not affected, so a
comparison without this would measure the page faults, not the frameworks. The same effect as
MALLOC_MMAP_THRESHOLD_=33554432 MALLOC_TRIM_THRESHOLD_=... MALLOC_TOP_PAD_=1073741824 in the
environment, or jemalloc with retain:true and no decay; PyTorch's CPU performance guide
recommends such an allocator setting. Import it before the first tensor is made.
"""
import ctypes
import ctypes.util

M_TRIM_THRESHOLD = -1
M_TOP_PAD = -2
M_MMAP_THRESHOLD = -3
M_MMAP_MAX = -4


def keep_freed_memory():
    """mallopt: no mmap at all (blocks past the 32 MiB threshold, a batch's activations, would
    still be mapped and faulted in each step), no trimming of the heap, 1 GiB top pad."""
    name = ctypes.util.find_library("c")
    if name is None:
        return False
    libc = ctypes.CDLL(name)
    ok = libc.mallopt(M_MMAP_THRESHOLD, 32 << 20) == 1
    ok = libc.mallopt(M_MMAP_MAX, 0) == 1 and ok
    ok = libc.mallopt(M_TRIM_THRESHOLD, 2**31 - 1) == 1 and ok
    ok = libc.mallopt(M_TOP_PAD, 1 << 30) == 1 and ok
    return ok


KEPT = keep_freed_memory()
