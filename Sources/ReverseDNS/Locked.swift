import Glibc

/// A value behind a pthread mutex: the resolver's shared state.
///
/// Not `Synchronization.Mutex`: on Linux it locks with futexes inside the prebuilt standard
/// library, where ThreadSanitizer cannot see the ordering, so every access under it is reported
/// as a race (checked with Swift 6.3.1 and a two-thread counter). `pthread_mutex_lock` is
/// intercepted by ThreadSanitizer, so `swift test --sanitize=thread` checks this module for real.
/// The lock is held for a dictionary access or two, never across a system call.
final class Locked<Value>: @unchecked Sendable {
    // @unchecked: `value` is only reached through `withLock`, which holds `mutex`.
    private let mutex: UnsafeMutablePointer<pthread_mutex_t>
    private var value: Value

    init(_ value: Value) {
        // Allocated, not stored inline: a pthread mutex must not move once initialised.
        mutex = .allocate(capacity: 1)
        mutex.initialize(to: pthread_mutex_t())
        precondition(pthread_mutex_init(mutex, nil) == 0, "pthread_mutex_init failed")
        self.value = value
    }

    deinit {
        pthread_mutex_destroy(mutex)
        mutex.deallocate()
    }

    func withLock<Result>(_ body: (inout Value) throws -> Result) rethrows -> Result {
        pthread_mutex_lock(mutex)
        defer { pthread_mutex_unlock(mutex) }
        return try body(&value)
    }
}
