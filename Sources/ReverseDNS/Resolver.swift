internal import CAres
import Glibc
public import WireFormat

/// Reverse DNS with forward confirmation, asynchronous, cached and rate-limited.
///
/// Callers never wait on DNS: `request` queues an address and returns at once, `cached` reads
/// what is known. One thread of the resolver's own drives c-ares (its sockets through `poll`,
/// its timers through `ares_timeout`) and starts queued lookups no faster than the rate limit.
/// A lookup asks for the address's PTR names, then for each name's A or AAAA records; a name is
/// confirmed when they include the address, since only the owner of the name's zone can say so,
/// while anyone holding an address can point its PTR at `scan.shodan.io`.
///
/// Shared by every thread: its state is behind one lock, held for a dictionary access at a time.
/// Dropping the last reference stops the thread and cancels open queries.
public final class Resolver: Sendable {
    /// What `request` did.
    public enum Request: Sendable, Equatable {
        /// The address was looked up recently; here is the answer, and nothing was queued.
        case known(ReverseLookup)
        /// A lookup of the address is already queued or in flight.
        case alreadyPending
        /// The address was queued.
        case queued
        /// The queue was full; the request was dropped and counted.
        case dropped
    }

    /// Counts since the resolver started.
    public struct Statistics: Sendable, Equatable {
        /// `request` calls.
        public var requests = 0
        /// Requests answered from the cache.
        public var cacheHits = 0
        /// Requests dropped because the queue was full.
        public var dropped = 0
        /// Lookups started (each one PTR query, then the forward queries).
        public var lookupsStarted = 0
        /// DNS queries sent, PTR and forward (c-ares's own retries not counted).
        public var queriesSent = 0
        /// Lookups finished with a forward-confirmed name.
        public var confirmed = 0
        /// Lookups finished with PTR names none of which confirmed.
        public var unconfirmed = 0
        /// Lookups finished without a PTR name.
        public var noName = 0
        /// Lookups that failed (a timeout, a server failure).
        public var failed = 0
    }

    public let configuration: ResolverConfiguration
    private let shared: SharedState
    private let thread: pthread_t

    /// Opens a c-ares channel to the configured server and starts the resolver's thread.
    ///
    /// - Throws: `ResolverError` with c-ares's message when the channel cannot be set up.
    public init(configuration: ResolverConfiguration = ResolverConfiguration()) throws(ResolverError) {
        precondition(configuration.queueCapacity > 0, "the lookup queue needs room for at least one address")
        precondition(configuration.maximumNamesChecked > 0, "at least one PTR name must be checked")
        self.configuration = configuration
        let shared = SharedState(configuration)
        self.shared = shared
        let loop = EventLoop(channel: try Channel(configuration), shared: shared, configuration: configuration)
        let box = Unmanaged.passRetained(loop).toOpaque()
        var thread = pthread_t()
        let status = pthread_create(
            &thread, nil,
            { raw in
                Unmanaged<EventLoop>.fromOpaque(raw!).takeRetainedValue().run()
                return nil
            }, box)
        precondition(status == 0, "pthread_create failed: \(status)")
        self.thread = thread
    }

    /// Stops the thread and waits for it, so the channel and its sockets are gone on return.
    deinit {
        shared.state.withLock { $0.stopping = true }
        shared.wake()
        pthread_join(thread, nil)
    }

    /// Asks for `address` to be looked up, without waiting: a lock, a dictionary lookup and, when
    /// the thread is idle, one `write` to wake it.
    ///
    /// - Returns: the cached answer when there is one; otherwise whether the address was queued,
    ///   was already pending, or was dropped because the queue is full.
    @discardableResult
    public func request(_ address: IPAddress) -> Request {
        let now = ContinuousClock.now
        let capacity = configuration.queueCapacity
        let (outcome, wake): (Request, Bool) = shared.state.withLock { state in
            state.statistics.requests += 1
            if let known = state.cache.lookup(address, now: now) {
                state.statistics.cacheHits += 1
                return (.known(known), false)
            }
            if state.pending.contains(address) { return (.alreadyPending, false) }
            guard state.queue.count - state.queueHead < capacity else {
                state.statistics.dropped += 1
                return (.dropped, false)
            }
            state.queue.append(address)
            state.pending.insert(address)
            // One wake-up per idle period: the thread clears the flag each time it takes the
            // queue, so a burst of requests costs one write.
            let wake = !state.wakeRequested
            state.wakeRequested = true
            return (.queued, wake)
        }
        if wake { shared.wake() }
        return outcome
    }

    /// What is known about `address` now: `.pending` while a lookup is queued or in flight, the
    /// answer once it is in and until it expires, nil when it was never requested or has
    /// expired.
    public func cached(_ address: IPAddress) -> ReverseLookup? {
        let now = ContinuousClock.now
        return shared.state.withLock { state in
            state.pending.contains(address) ? .pending : state.cache.lookup(address, now: now)
        }
    }

    public var statistics: Statistics { shared.state.withLock { $0.statistics } }

    /// Waits until no lookup is queued or in flight, at most `timeout`; whether that happened.
    ///
    /// Never for the capture path. It is for the end of a savefile, where packet time has run
    /// far ahead of real time: waiting there, before the last episodes are classified, lets
    /// their lookups land. Polls every 2 ms, which is nothing next to a DNS round trip.
    public func waitUntilIdle(timeout: Duration) -> Bool {
        let deadline = ContinuousClock.now + timeout
        while !shared.state.withLock({ $0.pending.isEmpty }) {
            guard ContinuousClock.now < deadline else { return false }
            usleep(2_000)
        }
        return true
    }
}

/// What callers and the resolver's thread share, and the pipe that wakes the thread.
private final class SharedState: Sendable {
    struct State {
        var cache: LookupCache
        /// Addresses queued or in flight.
        var pending: Set<IPAddress> = []
        /// Addresses waiting for the rate limit, oldest at `queueHead`; compacted by the thread
        /// as it takes them.
        var queue: [IPAddress] = []
        var queueHead = 0
        /// A wake-up was written and the thread has not taken the queue since.
        var wakeRequested = false
        var stopping = false
        var statistics = Resolver.Statistics()
    }

    let state: Locked<State>
    /// A pipe: callers write a byte to `wakeWriter`, the thread's `poll` sees `wakeReader`
    /// readable and drains it.
    let wakeReader: Int32
    private let wakeWriter: Int32

    init(_ configuration: ResolverConfiguration) {
        state = Locked(State(cache: LookupCache(capacity: configuration.cacheCapacity)))
        var ends: [Int32] = [-1, -1]
        // Non-blocking, so a caller's write can never wait: a full pipe (it holds 64 KiB, and a
        // byte is written only when the thread is not already due to wake) is readable anyway.
        precondition(pipe(&ends) == 0, "pipe failed: errno \(errno)")
        for end in ends {
            precondition(fcntl(end, F_SETFL, fcntl(end, F_GETFL) | O_NONBLOCK) == 0, "fcntl failed: errno \(errno)")
            precondition(fcntl(end, F_SETFD, FD_CLOEXEC) == 0, "fcntl failed: errno \(errno)")
        }
        wakeReader = ends[0]
        wakeWriter = ends[1]
    }

    deinit {
        close(wakeReader)
        close(wakeWriter)
    }

    func wake() {
        var byte: UInt8 = 1
        _ = write(wakeWriter, &byte, 1)
    }

    func drainWakeUps() {
        var bytes = [UInt8](repeating: 0, count: 64)
        while read(wakeReader, &bytes, bytes.count) == bytes.count {}
    }
}

/// The resolver's thread: the only user of the channel, the rate limiter and the lookups in
/// flight.
///
/// `@unchecked Sendable` because it is handed to the new thread once, at start, and touched by
/// no other thread afterwards; the state it shares is in `SharedState`'s lock.
private final class EventLoop: @unchecked Sendable {
    private var channel: Channel?
    private let shared: SharedState
    private let configuration: ResolverConfiguration
    private var limiter: RateLimiter

    init(channel: Channel, shared: SharedState, configuration: ResolverConfiguration) {
        self.channel = channel
        self.shared = shared
        self.configuration = configuration
        self.limiter = RateLimiter(perSecond: configuration.lookupsPerSecond, now: .now)
    }

    func run() {
        while let channel {
            // 1. Take as many queued addresses as the rate limit allows.
            let now = ContinuousClock.now
            var starting: [IPAddress] = []
            let (stopping, waiting) = shared.state.withLock { state in
                state.wakeRequested = false
                while state.queueHead < state.queue.count, limiter.take(now: now) {
                    starting.append(state.queue[state.queueHead])
                    state.queueHead += 1
                }
                // Taken addresses stay in the array until it is compacted: at once when it is
                // empty, else when they are most of it, so under a steady stream of requests it
                // stays within twice the queue's capacity and each address is moved O(1) times.
                if state.queueHead == state.queue.count {
                    state.queue.removeAll(keepingCapacity: true)
                    state.queueHead = 0
                } else if state.queueHead * 2 > state.queue.count {
                    state.queue.removeFirst(state.queueHead)
                    state.queueHead = 0
                }
                state.statistics.lookupsStarted += starting.count
                return (state.stopping, state.queue.count - state.queueHead)
            }
            if stopping { break }
            for address in starting { lookUp(address, on: channel) }

            // 2. Wait for an answer, a timer, a token for a waiting address, or a new request.
            let sockets = channel.sockets()
            var descriptors = [pollfd(fd: shared.wakeReader, events: Int16(POLLIN), revents: 0)]
            for socket in sockets {
                let events = (socket.readable ? Int16(POLLIN) : 0) | (socket.writable ? Int16(POLLOUT) : 0)
                descriptors.append(pollfd(fd: socket.descriptor, events: events, revents: 0))
            }
            var wait = channel.timeout()
            if waiting > 0 {
                let token = limiter.wait(now: .now)
                wait = wait.map { min($0, token) } ?? token
            }
            _ = poll(&descriptors, nfds_t(descriptors.count), wait.map(milliseconds) ?? -1)

            // 3. Hand what is ready to c-ares, then let it expire its timers; finished queries
            //    run their completions here, on this thread.
            if descriptors[0].revents != 0 { shared.drainWakeUps() }
            for descriptor in descriptors.dropFirst() where descriptor.revents != 0 {
                // Errors and hang-ups are reported as readable, so c-ares reads and sees them.
                let readable = descriptor.revents & Int16(POLLIN | POLLERR | POLLHUP) != 0
                let writable = descriptor.revents & Int16(POLLOUT) != 0
                channel.process(readable: readable ? descriptor.fd : nil, writable: writable ? descriptor.fd : nil)
            }
            channel.process(readable: nil, writable: nil)
        }
        // Cancels what is still open; those completions see ARES_EDESTRUCTION and record nothing.
        self.channel = nil
    }

    /// Asks for `address`'s PTR names, then checks them forward.
    private func lookUp(_ address: IPAddress, on channel: Channel) {
        count(queries: 1)
        channel.query(address.reverseDNSName, type: .ptr) { [self] reply in
            let names: [String]
            do throws(ResolverError) {
                names = try Channel.ptrNames(in: reply.get(), for: address)
            } catch {
                if error.status == ARES_EDESTRUCTION || error.status == ARES_ECANCELLED { return }
                if error.status == ARES_ENOTFOUND || error.status == ARES_ENODATA {
                    finish(address, .noName, lifetime: configuration.negativeLifetime)
                } else {
                    finish(address, .failed(error), lifetime: configuration.failureLifetime)
                }
                return
            }
            guard !names.isEmpty else {
                finish(address, .noName, lifetime: configuration.negativeLifetime)
                return
            }
            confirm(address, names: Array(names.prefix(configuration.maximumNamesChecked)), on: channel)
        }
    }

    /// Asks for each name's A or AAAA records; confirmed when any of them holds `address`.
    private func confirm(_ address: IPAddress, names: [String], on channel: Channel) {
        let type = RecordType.addressRecords(for: address)
        var remaining = names.count
        var confirmedName: String?
        var forwardFailed = false
        count(queries: names.count)
        for name in names {
            channel.query(name, type: type) { [self] reply in
                do throws(ResolverError) {
                    let addresses = try Channel.addresses(in: reply.get(), type: type, name: name)
                    if confirmedName == nil && addresses.contains(address) { confirmedName = name }
                } catch {
                    if error.status == ARES_EDESTRUCTION || error.status == ARES_ECANCELLED { return }
                    // No such name, or no address of the family: an answer, just not a match.
                    if error.status != ARES_ENOTFOUND && error.status != ARES_ENODATA { forwardFailed = true }
                }
                remaining -= 1
                guard remaining == 0 else { return }
                if let confirmedName {
                    finish(address, .confirmed(name: confirmedName), lifetime: configuration.positiveLifetime)
                } else {
                    // A forward lookup that failed may confirm next time: remember it briefly.
                    finish(
                        address, .unconfirmed(name: names[0]),
                        lifetime: forwardFailed ? configuration.failureLifetime : configuration.positiveLifetime)
                }
            }
        }
    }

    private func count(queries: Int) {
        shared.state.withLock { $0.statistics.queriesSent += queries }
    }

    private func finish(_ address: IPAddress, _ lookup: ReverseLookup, lifetime: Duration) {
        let now = ContinuousClock.now
        shared.state.withLock { state in
            state.pending.remove(address)
            state.cache.store(lookup, for: address, lifetime: lifetime, now: now)
            switch lookup {
            case .confirmed: state.statistics.confirmed += 1
            case .unconfirmed: state.statistics.unconfirmed += 1
            case .noName: state.statistics.noName += 1
            case .failed: state.statistics.failed += 1
            case .pending: preconditionFailure("a finished lookup is not pending")
            }
        }
    }
}

/// `poll`'s timeout: whole milliseconds, rounded up so a wait never ends just before its timer
/// and spins.
private func milliseconds(_ duration: Duration) -> Int32 {
    let (seconds, attoseconds) = duration.components
    guard seconds >= 0, attoseconds >= 0 || seconds > 0 else { return 0 }
    let total = seconds * 1000 + (attoseconds + 999_999_999_999_999) / 1_000_000_000_000_000
    return Int32(clamping: total)
}
