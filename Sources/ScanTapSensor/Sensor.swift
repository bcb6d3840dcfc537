import Dispatch
import PacketCapture
import ReverseDNS
import ScanDetection
public import ScanReport
import ScannerClassification
import Synchronization
import WireFormat

#if canImport(Glibc)
    import Glibc
#endif

/// A whole `scantap` run: opens the captures, feeds the detector, reports episodes and
/// statistics to the sink, and stops cleanly on SIGINT/SIGTERM.
public final class Sensor: @unchecked Sendable {
    /// The version `scantap --version` prints and DShield submissions name.
    public static let version = "0.1.0"

    // @unchecked: the sink is only touched under `sinkLock` once capture threads run; the
    // detector is built for concurrent use.
    public let options: SensorOptions
    private let sink: any EventSink
    private let sinkLock = Mutex(())
    private let detector: ScanDetector
    /// Labels episodes before they are reported: the shared classifier, built from the options
    /// when `run` starts.
    private var classifier: Classifier?
    /// Asynchronous PTR lookups (`--resolve`): asked when a source is declared, read when its
    /// episode closes; the capture path never waits for them.
    private var resolver: Resolver?
    private let stopper = Stopper()
    /// Guarded by `sinkLock`, like the sink.
    private var alertLimit = AlertRateLimit()
    private var episodesReported = 0

    public init(options: SensorOptions, sink: any EventSink) {
        self.options = options
        self.sink = sink
        // `read` runs the detector on one thread; live capture runs one per interface.
        if case .read = options.mode {
            self.detector = ScanDetector(configuration: options.detector, exclusive: true)
        } else {
            self.detector = ScanDetector(configuration: options.detector)
        }
    }

    /// Runs to the end of the input or until stopped. Whatever happens, the episodes found so
    /// far and the statistics are reported before an error is thrown.
    public func run() throws(SensorError) {
        // Loaded before any packet is read: a bad knowledge file stops the run at once.
        classifier = try ClassifierSetup.build(options.classification)
        resolver = try ClassifierSetup.resolver(options.classification)
        switch options.mode {
        case .read(let files): try runRead(files)
        case .live(let interfaces): try runLive(interfaces)
        case .help, .version, .classify, .dshield: break
        }
    }

    // MARK: Savefiles

    /// Packets handed to the detector at once in `read`: long enough that its prefetch
    /// pipeline (`ScanDetector.prefetchDistance`) runs full most of the time.
    static let detectorRun = 256

    private func runRead(_ files: [String]) throws(SensorError) {
        let filter = try options.filter.map { (name) throws(SensorError) in try FilterLibrary.filter(for: name) }
        stopper.install()
        defer { stopper.uninstall() }

        // A file that cannot be opened, or a dshield.ini that cannot be used, stops the run
        // before anything is read or printed.
        for file in files where file != "-" && access(file, R_OK) != 0 {
            throw SensorError.runtime("\(file): \(String(cString: strerror(errno)))")
        }
        let dshield =
            options.dshield.wanted
            ? DShieldOutput(
                options: options.dshield, settings: try dshieldSettings(),
                isScanner: { [detector] in detector.isDeclared($0) })
            : nil

        // Two threads: this one runs the detector and reports; the reader runs libpcap and the
        // decoder, handing decoded packets over through a ring. Several files are one capture:
        // one table, one clock, one set of episodes.
        let ring = PacketRing()
        let reader = SavefileReader(files: files, filter: filter, ring: ring, stopper: stopper)
        let readerDone = DispatchSemaphore(value: 0)
        startThread {
            reader.run()
            readerDone.signal()
        }

        let sweepInterval = options.detector.sweepInterval.nanosecondCount
        var nextSweep = Int64.min
        var alerted = false
        let onAlert: (Alert) -> Void = { alert in
            alerted = true
            self.report(alert)
        }
        while ring.consume(
            limit: Self.detectorRun,
            { packets in
                dshield?.process(packets)
                // Sweeps happen right after the packet whose time crosses the sweep time, whatever
                // the run sizes the ring hands over: episode boundaries depend on the capture only.
                var start = 0
                for i in packets.indices where packets[i].timestamp.nanoseconds >= nextSweep {
                    detector.process(UnsafeBufferPointer(rebasing: packets[start...i]), onAlert: onAlert)
                    start = i + 1
                    if nextSweep != .min { report(detector.sweep(now: packets[i].timestamp)) }
                    nextSweep = packets[i].timestamp.nanoseconds &+ sweepInterval
                }
                if start < packets.count {
                    detector.process(UnsafeBufferPointer(rebasing: packets[start...]), onAlert: onAlert)
                }
                if alerted {
                    flushAlerts()
                    alerted = false
                }
            })
        {}
        readerDone.wait()

        // A usage error before any packet was read (a bad filter) leaves nothing to report.
        let frames = reader.frames
        if let failure = reader.failure, case .usage = failure, frames.packets == 0 { throw failure }
        var statistics = RunStatistics()
        frames.count(into: &statistics)
        finish(statistics)
        // The records found before a failure are written too: nothing computed is lost.
        try dshield?.finish()
        if let failure = reader.failure { throw failure }
    }

    // MARK: Live interfaces

    private func runLive(_ interfaces: [String]) throws(SensorError) {
        let filter = try FilterLibrary.filter(for: options.filter ?? FilterLibrary.defaultName)
        // The dshield.ini and the home network are settled first: a mistake there stops the run
        // before any interface is opened. The ini is read now, while it is still readable (it is
        // its owner's, mode 0600, and -Z may drop that owner's rights).
        let dshieldSettings =
            options.dshield.configFile == nil
            ? nil : try dshieldSettings(interfaces: interfaces)
        var captures: [(handle: CaptureHandle, linkType: LinkType)] = []
        do throws(CaptureError) {
            for interface in interfaces {
                let handle = try CaptureHandle.openLive(interface: interface, options: options.live)
                let linkType = try handle.decodableLinkType()
                // The kernel runs the filter: unwanted packets never cross into user space.
                try install(filter, on: handle)
                captures.append((handle, linkType))
            }
        } catch {
            throw SensorError(error)
        }
        if let user = options.dropToUser { try dropPrivileges(to: user) }
        // The spool is opened as the user the sensor runs as: the files it creates are that
        // user's, so renaming them later cannot fail for want of rights.
        let dshield = try dshieldSettings.map { (settings) throws(SensorError) in
            // Settings exist only with a --dshield-config, so their config is there.
            try LiveDShield(
                options: options.dshield, settings: settings, config: settings.config!,
                isScanner: { [detector] in detector.isDeclared($0) })
        }

        stopper.install()
        defer { stopper.uninstall() }
        for capture in captures { stopper.watch(capture.handle) }
        // SIGHUP reloads the classifier's files without stopping the capture.
        signal(SIGHUP, SIG_IGN)
        let hangup = DispatchSource.makeSignalSource(signal: SIGHUP, queue: .global())
        hangup.setEventHandler { [weak self] in self?.reloadClassifier() }
        hangup.resume()
        defer {
            hangup.cancel()
            signal(SIGHUP, SIG_DFL)
        }

        let workers = captures.map {
            LiveWorker(handle: $0.handle, linkType: $0.linkType, detector: detector, dshield: dshield)
        }
        let group = DispatchGroup()
        let failures = Mutex<[SensorError]>([])
        for worker in workers {
            group.enter()
            startThread {
                do throws(CaptureError) {
                    try worker.run(onAlert: { self.report($0) }, afterAlerts: { self.flushAlerts() })
                } catch {
                    failures.withLock { $0.append(SensorError(error)) }
                    self.stopper.stop()
                }
                group.leave()
            }
        }
        // The sweeper: packet time drives closing, but when the link is quiet the wall clock
        // moves the sensor's clock on, so idle episodes still close on time. It also takes the
        // DShield records decided in the last second to the spool.
        let sweeperDone = DispatchSemaphore(value: 0)
        startThread {
            while !self.stopper.waitForStop(milliseconds: 1000) {
                let packetTime = workers.map(\.clock).max() ?? .zero
                let now = max(packetTime, wallClock())
                let closed = self.detector.sweep(now: now)
                if !closed.isEmpty {
                    self.report(closed)
                    self.flushAlerts()  // live, a closed episode is news too
                }
                dshield?.sweep(now: now)
            }
            sweeperDone.signal()
        }
        // Submissions wait on the network: never on a capture thread.
        if let dshield { startThread { dshield.runSubmissions() } }
        group.wait()
        stopper.stop()
        sweeperDone.wait()
        dshield?.stopSubmissions()
        // The flows still held are decided now and spooled before the final report; a spool
        // failure is reported after it, like a capture failure.
        var dshieldFailure: SensorError? = nil
        do throws(SensorError) { try dshield?.finish() } catch { dshieldFailure = error }

        var statistics = RunStatistics()
        for worker in workers {
            worker.pipeline.frames.count(into: &statistics)
            if let counters = try? worker.handle.statistics() {
                statistics.kernelDrops += Int(counters.droppedByKernel + counters.droppedByInterface)
            }
        }
        finish(statistics)
        dshield?.awaitSubmissions()
        if let failure = failures.withLock({ $0.first }) ?? dshieldFailure { throw failure }
    }

    /// Rebuilds the classifier from its files and swaps it in for the episodes reported from
    /// now on. A file that fails to load leaves the previous classifier in place: a live sensor
    /// keeps running, and says so on standard error.
    private func reloadClassifier() {
        let log = FileOutput(descriptor: 2)
        do throws(SensorError) {
            let fresh = try ClassifierSetup.build(options.classification)
            sinkLock.withLock { _ in classifier = fresh }
            log.write("scantap: SIGHUP: classification data reloaded\n")
        } catch {
            log.write("scantap: SIGHUP: reload failed, keeping the previous data: \(error)\n")
        }
        log.flush()
    }

    /// The DShield settings, with `--dshield-exclude research` asking the classifier (the
    /// current one: SIGHUP may replace it) and the resolver's cached PTR name.
    private func dshieldSettings(interfaces: [String] = []) throws(SensorError) -> DShieldSettings {
        var settings = try DShieldSettings(options: options.dshield, interfaces: interfaces)
        if options.dshield.excludeResearch {
            settings.isResearch = { [self] address in
                let classifier = sinkLock.withLock { _ in self.classifier }
                let ptr = resolver?.cached(address)?.ptr
                return classifier?.classify(address: address, observed: Observation(), ptr: ptr).classification.verdict
                    == .research
            }
        }
        return settings
    }

    // MARK: Reporting

    private func report(_ alert: Alert) {
        // The lookup starts now so that its answer has usually landed when the episode closes.
        _ = resolver?.request(alert.source)
        sinkLock.withLock { _ in
            switch alertLimit.admit(at: alert.time) {
            case .allow:
                sink.alert(alert)
            case .allowAfterSuppression(let count, let first, let last):
                sink.alertsSuppressed(count: count, first: first, last: last)
                sink.alert(alert)
            case .suppress:
                break
            }
        }
    }

    /// Pushes alerts out: called after each batch of packets that raised one, and live after
    /// each sweep that closed episodes.
    private func flushAlerts() {
        sinkLock.withLock { _ in sink.flush() }
    }

    private func report(_ episodes: [Episode]) {
        guard !episodes.isEmpty else { return }
        sinkLock.withLock { _ in
            for var episode in episodes {
                if let classifier {
                    let ptr = resolver?.cached(episode.source)?.ptr
                    episode.classification = classifier.classify(episode, ptr: ptr).classification
                }
                sink.episode(episode)
                episodesReported += 1
            }
        }
    }

    private func finish(_ partial: RunStatistics) {
        if options.classification.resolveWait > 0, case .read = options.mode {
            _ = resolver?.waitUntilIdle(timeout: .seconds(options.classification.resolveWait))
        }
        report(detector.closeAll())
        var statistics = partial
        statistics.sourcesTracked = detector.table.insertions
        statistics.evictions = detector.table.evictions
        statistics.untracked = detector.table.untracked
        sinkLock.withLock { _ in
            if let held = alertLimit.drain() {
                sink.alertsSuppressed(count: held.count, first: held.first, last: held.last)
            }
            statistics.episodes = episodesReported
            sink.finish(statistics)
        }
    }
}

/// One live interface's capture thread.
private final class LiveWorker: @unchecked Sendable {
    // @unchecked: `pipeline` is owned by the worker's thread while it runs and read only after
    // that thread has left the dispatch group; `latest` is the one value shared meanwhile.
    let handle: CaptureHandle
    let linkType: LinkType
    var pipeline: PacketPipeline
    private let latest = Atomic<Int64>(0)

    init(handle: CaptureHandle, linkType: LinkType, detector: ScanDetector, dshield: LiveDShield?) {
        self.handle = handle
        self.linkType = linkType
        self.pipeline = PacketPipeline(detector: detector, dshield: dshield)
    }

    /// The latest packet time this thread has seen.
    var clock: Timestamp { Timestamp(nanoseconds: latest.load(ordering: .relaxed)) }

    /// Captures until stopped. `afterAlerts` runs after each batch that raised alerts.
    func run(onAlert: (Alert) -> Void, afterAlerts: () -> Void) throws(CaptureError) {
        _ = try handle.run(
            { frame in
                if pipeline.consume(frame, linkType: linkType, onAlert: onAlert) { afterAlerts() }
            },
            batchEnd: {
                // Whatever libpcap handed over is processed before waiting for more: a batch never
                // waits for its 32nd packet. The clock is published once per batch, not per packet:
                // the sweeper needs it to the second.
                if pipeline.flush(onAlert: onAlert) { afterAlerts() }
                latest.store(pipeline.frames.clock.nanoseconds, ordering: .relaxed)
            })
    }
}

/// Compiles `filter` for the handle's link type and installs it.
///
/// The program is compiled on a dead handle of the same link type, not on the live one: on a
/// live Linux handle libpcap 1.10 generates code that reads VLAN tags from the kernel's metadata,
/// and gets the `(F) or (vlan and …)` form of filter files wrong (libpcap issue #1513). Linux puts
/// the tags back into the packet data libpcap delivers, so the offline program is the right one.
private func install(_ filter: FilterLibrary.Filter, on handle: CaptureHandle) throws(CaptureError) {
    guard let compiler = CaptureHandle.openDead(dataLinkType: handle.dataLinkType) else {
        throw CaptureError(.setFilter, source: handle.sourceName, message: "cannot compile for \(handle.dataLinkName)")
    }
    do {
        try handle.setFilter(try compiler.compile(filter.expression(forDataLinkType: handle.dataLinkType)))
    } catch  where error.kind == .filterSyntax {
        throw CaptureError(.filterSyntax, source: handle.sourceName, message: error.message)
    }
}

/// The `read` producer thread: opens each savefile in turn and decodes its packets into the ring.
private final class SavefileReader: @unchecked Sendable {
    // @unchecked: `frames` and `failure` are written by the reader thread only and read after it
    // has signalled that it is done.
    let files: [String]
    let filter: FilterLibrary.Filter?
    let ring: PacketRing
    let stopper: Stopper
    var frames = FrameDecoder()
    var failure: SensorError?

    init(files: [String], filter: FilterLibrary.Filter?, ring: PacketRing, stopper: Stopper) {
        self.files = files
        self.filter = filter
        self.ring = ring
        self.stopper = stopper
    }

    func run() {
        // Locals, not properties, on the per-packet path: a class property is checked for
        // exclusive access at run time on every mutation.
        var producer = PacketRing.Producer(ring: ring)
        var frames = FrameDecoder()
        defer {
            producer.finish()
            self.frames = frames
        }
        for file in files where !stopper.isStopped {
            do throws(CaptureError) {
                let handle = try CaptureHandle.openSavefile(file)
                let linkType = try handle.decodableLinkType()
                if let filter { try install(filter, on: handle) }
                stopper.watch(handle)
                defer { stopper.unwatch(handle) }
                // Published on error too: every packet before a truncation reaches the detector.
                defer { producer.publish() }
                _ = try handle.run(
                    { frame in
                        if frames.decode(frame, linkType: linkType, into: producer.nextSlot()) { producer.commit() }
                    }, batchEnd: { producer.publish() })
            } catch {
                failure = SensorError(error)
                return
            }
        }
    }
}

/// SIGINT/SIGTERM handling: each signal breaks every capture loop; the run then reports.
private final class Stopper: @unchecked Sendable {
    // @unchecked: the handle list is behind a Mutex; the flag is atomic.
    private let handles = Mutex<[CaptureHandle]>([])
    private let stopped = Atomic<Bool>(false)
    private var sources: [any DispatchSourceSignal] = []

    var isStopped: Bool { stopped.load(ordering: .acquiring) }

    func install() {
        for signalNumber in [SIGINT, SIGTERM] {
            // Dispatch delivers the signal on a queue, where taking a lock is allowed.
            signal(signalNumber, SIG_IGN)
            let source = DispatchSource.makeSignalSource(signal: signalNumber, queue: .global())
            source.setEventHandler { [weak self] in self?.stop() }
            source.resume()
            sources.append(source)
        }
    }

    func uninstall() {
        for source in sources { source.cancel() }
        sources.removeAll()
        signal(SIGINT, SIG_DFL)
        signal(SIGTERM, SIG_DFL)
    }

    func watch(_ handle: CaptureHandle) {
        handles.withLock { $0.append(handle) }
        if isStopped { handle.breakLoop() }
    }

    func unwatch(_ handle: CaptureHandle) {
        handles.withLock { $0.removeAll { $0 === handle } }
    }

    func stop() {
        stopped.store(true, ordering: .releasing)
        handles.withLock { for handle in $0 { handle.breakLoop() } }
    }

    /// Sleeps up to `milliseconds`, waking early on stop; true once stopped.
    func waitForStop(milliseconds: Int) -> Bool {
        for _ in 0..<(milliseconds / 50) {
            if isStopped { return true }
            usleep(50_000)
        }
        return isStopped
    }
}

private func startThread(_ body: @escaping @Sendable () -> Void) {
    let box = Unmanaged.passRetained(ThreadBody(body)).toOpaque()
    var thread = pthread_t()
    let status = pthread_create(
        &thread, nil,
        { raw in
            let body = Unmanaged<ThreadBody>.fromOpaque(raw!).takeRetainedValue()
            body.run()
            return nil
        }, box)
    precondition(status == 0, "pthread_create failed: \(status)")
    pthread_detach(thread)
}

private final class ThreadBody: Sendable {
    let run: @Sendable () -> Void
    init(_ run: @escaping @Sendable () -> Void) { self.run = run }
}

private func wallClock() -> Timestamp {
    var now = timespec()
    clock_gettime(CLOCK_REALTIME, &now)
    return Timestamp(seconds: Int64(now.tv_sec), nanoseconds: Int64(now.tv_nsec))
}
