"""The garbage collector, set up once per process for serving: start-up heap frozen, fewer passes.

Now and then CPython's cyclic collector walks every object it tracks (a full
collection: when the objects that survived its younger generations have grown
by a quarter). In a started app most of them are the start-up heap (modules,
routes, models, the patterns' clients and pools: some 150,000 objects with
every pattern applied), so each full collection paused every request of the
process for about 0.15 s here, and 1,000 WebSocket clients joining caused
three. `freeze_startup_heap` collects once, then moves everything still alive
to the permanent generation (`gc.freeze`), which collections never walk; they
then only look at what the app created since.

It also spaces out the young collections. CPython runs one each time 700 more
container objects have been allocated than freed, and each one walks its
generation and the references into it. With 1,000 WebSocket connections open,
1,000 more took 1.0 to 1.5 s to join here, and 0.7 to 1.0 s with the
threshold at 20,000: about 30% of the time went to those passes. Most
of a server's garbage is freed by reference counting as soon as it is dropped;
the threshold only bounds how many cyclic leftovers wait for a collection
(20,000 objects: a few megabytes at most). The threshold is only ever raised:
a process whose collector was already set higher, or switched off, before the
app started (a `sitecustomize`, a server's hook) keeps its own setting.
"""

import gc

# Container objects allocated, net of those freed, before a young collection.
YOUNG_COLLECTION_THRESHOLD = 20_000


class _Freezer:
    """Remembers whether this process froze its start-up heap already."""

    done = False


def freeze_startup_heap() -> bool:
    """Collect garbage, freeze every live object and space out collections, once per process.

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
    young, middle, oldest = gc.get_threshold()
    if 0 < young < YOUNG_COLLECTION_THRESHOLD:  # 0: collection switched off
        gc.set_threshold(YOUNG_COLLECTION_THRESHOLD, middle, oldest)
    return True
