// Cache prefetch hints, which Swift does not expose.
//
// The source table is read at random, so each packet's lookup misses the cache. Plain loads
// issued ahead of time do not help much: a load cannot retire until its data arrives, and a
// few dozen instructions of hashing between loads fill the reorder buffer. A prefetch retires
// at once, so a whole batch's misses can be in flight together.
#ifndef CPREFETCH_H
#define CPREFETCH_H

// Starts loading the cache line holding `address` for a later write (the table's updates are
// read-modify-writes, so the line is fetched for ownership).
static inline void CPrefetch_forWrite(const void *address) {
    __builtin_prefetch(address, 1, 3);
}

#endif
