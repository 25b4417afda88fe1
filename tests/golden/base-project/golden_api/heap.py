"""The start-up heap, frozen once per process so that full garbage collections skip it.

Now and then CPython's cyclic collector walks every object it tracks (a full
collection: when the objects that survived its younger generations have grown
by a quarter). In a started app most of them are the start-up heap (modules,
routes, models, the patterns' clients and pools: some 150,000 objects with
every pattern applied), so each full collection paused every request of the
process for about 0.15 s here, and 1,000 WebSocket clients joining caused
three. `freeze_startup_heap` collects once, then moves everything still alive
to the permanent generation (`gc.freeze`), which collections never walk; they
then only look at what the app created since.
"""

import gc


class _Freezer:
    """Remembers whether this process froze its start-up heap already."""

    done = False


def freeze_startup_heap() -> bool:
    """Collect garbage, then freeze every live object, the first time in this process.

    Later calls do nothing and return False: a test suite starts many apps in
    one process, and freezing at each start would keep the earlier apps'
    objects out of collection for good once they are garbage.

    Returns:
        Whether this call froze the heap.
    """
    if _Freezer.done:
        return False
    _Freezer.done = True
    gc.collect()
    gc.freeze()
    return True
