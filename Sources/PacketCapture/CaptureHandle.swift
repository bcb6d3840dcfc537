internal import CPcap
public import WireFormat

/// One captured frame as libpcap hands it over. `bytes` is valid only during the callback.
public struct CapturedFrame {
    public let timestamp: Timestamp
    public let bytes: UnsafeRawBufferPointer
    /// The frame's length on the wire; larger than `bytes.count` when the snaplen cut it.
    public let wireLength: Int
}

/// libpcap's interface counters (`pcap_stats`).
public struct CaptureStatistics: Sendable, Equatable {
    public var received: UInt64
    /// Dropped by the kernel because the capture buffer was full: the sensor was too slow.
    public var droppedByKernel: UInt64
    /// Dropped by the interface or its driver.
    public var droppedByInterface: UInt64
}

/// How a live interface is opened. Each default says why.
public struct LiveCaptureOptions: Sendable {
    /// Bytes captured per packet: Ethernet (14) + two VLAN tags (8) + IPv6 (40) + two
    /// extension headers (up to 48) + a TCP header with options (60) = 170; rounded up to 192,
    /// which also holds an ICMPv6 error quoting an IPv6 header and its ports. Payload is not
    /// read, so capturing more only costs buffer space.
    public var snapshotLength: Int32 = 192
    /// A span port delivers other hosts' traffic; without promiscuous mode the NIC drops it.
    public var promiscuous = true
    /// Kernel buffer in bytes; 0 keeps libpcap's default (2 MiB on Linux). Raise it when
    /// `kernel_drops` grows.
    public var bufferSize: Int32 = 0
    /// Deliver each packet at once so alerts are not held back by buffering. With it off,
    /// packets arrive in batches at most `timeoutMilliseconds` apart.
    public var immediate = true
    /// Longest wait for a batch when not in immediate mode; short, so idle episodes close on
    /// time and a stop request is noticed promptly.
    public var timeoutMilliseconds: Int32 = 100

    public init() {}
}

/// An open libpcap handle: a savefile, a live interface, or a "dead" handle for compiling
/// filters. The type owns the `pcap_t` and closes it on deinit.
public final class CaptureHandle: @unchecked Sendable {
    // @unchecked: libpcap handles are used by one thread at a time, except `breakLoop`, which
    // libpcap documents as callable from another thread or a signal handler.
    private let handle: OpaquePointer
    /// A file path, "-", or an interface name: named in every error.
    public let sourceName: String
    /// Whether timestamps arrive in nanoseconds (else microseconds).
    private let nanosecondTimestamps: Bool

    private init(handle: OpaquePointer, sourceName: String, nanosecondTimestamps: Bool) {
        self.handle = handle
        self.sourceName = sourceName
        self.nanosecondTimestamps = nanosecondTimestamps
    }

    deinit { pcap_close(handle) }

    /// Lends the raw `pcap_t` to other types of this module (the savefile writer).
    func withRawHandle<R>(_ body: (OpaquePointer) -> R) -> R { body(handle) }

    /// Opens a pcap or pcapng savefile (any byte order and timestamp precision); "-" reads
    /// standard input. The corresponding C function is `pcap_open_offline_with_tstamp_precision`.
    public static func openSavefile(_ path: String) throws(CaptureError) -> CaptureHandle {
        var errbuf = ErrorBuffer()
        let opened = errbuf.withPointer {
            pcap_open_offline_with_tstamp_precision(path, UInt32(PCAP_TSTAMP_PRECISION_NANO), $0)
        }
        guard let opened else { throw CaptureError(.open, source: path, message: errbuf.message) }
        return CaptureHandle(handle: opened, sourceName: path, nanosecondTimestamps: true)
    }

    /// Opens and activates a live interface. The corresponding C functions are `pcap_create`,
    /// the `pcap_set_*` family and `pcap_activate`.
    public static func openLive(interface: String, options: LiveCaptureOptions) throws(CaptureError)
        -> CaptureHandle
    {
        var errbuf = ErrorBuffer()
        guard let created = errbuf.withPointer({ pcap_create(interface, $0) }) else {
            throw CaptureError(.open, source: interface, message: errbuf.message)
        }
        // Nanoseconds where the kernel offers them; microseconds otherwise.
        let nano = pcap_set_tstamp_precision(created, Int32(PCAP_TSTAMP_PRECISION_NANO)) == 0
        // Owned from here: whatever fails below, the handle's deinit closes it.
        let handle = CaptureHandle(handle: created, sourceName: interface, nanosecondTimestamps: nano)
        pcap_set_snaplen(created, options.snapshotLength)
        pcap_set_promisc(created, options.promiscuous ? 1 : 0)
        pcap_set_timeout(created, options.timeoutMilliseconds)
        pcap_set_immediate_mode(created, options.immediate ? 1 : 0)
        if options.bufferSize > 0 { pcap_set_buffer_size(created, options.bufferSize) }
        let status = pcap_activate(created)
        if status < 0 {
            let detail = handle.lastError
            let summary = String(cString: pcap_statustostr(status))
            // pcap_geterr often repeats the status text; say each thing once.
            let message =
                detail.isEmpty
                ? summary : (detail.contains(summary) || status == PCAP_ERROR ? detail : "\(summary): \(detail)")
            throw CaptureError(.open, source: interface, message: message)
        }
        return handle
    }

    /// A handle that captures nothing, for compiling and testing filters offline.
    /// The corresponding C function is `pcap_open_dead_with_tstamp_precision`.
    public static func openDead(dataLinkType: Int32, snapshotLength: Int32 = 65535) -> CaptureHandle? {
        guard
            let dead = pcap_open_dead_with_tstamp_precision(
                dataLinkType, snapshotLength, UInt32(PCAP_TSTAMP_PRECISION_NANO))
        else { return nil }
        return CaptureHandle(handle: dead, sourceName: "(filter)", nanosecondTimestamps: true)
    }

    /// The libpcap data-link type (`DLT_*`). The corresponding C function is `pcap_datalink`.
    public var dataLinkType: Int32 { pcap_datalink(handle) }

    /// libpcap's name for the data-link type, e.g. "EN10MB". C: `pcap_datalink_val_to_name`.
    public var dataLinkName: String {
        pcap_datalink_val_to_name(dataLinkType).map { String(cString: $0) } ?? "DLT \(dataLinkType)"
    }

    /// The framing the decoder uses for this handle, or an error naming the link type.
    public func decodableLinkType() throws(CaptureError) -> LinkType {
        guard let type = LinkType(dataLinkType: dataLinkType) else {
            throw CaptureError(
                .unsupportedLinkType, source: sourceName,
                message: "unsupported link type \(dataLinkName) (DLT \(dataLinkType))")
        }
        return type
    }

    /// Compiles a filter expression for this handle's link type. C: `pcap_compile`.
    public func compile(_ expression: String, optimize: Bool = true) throws(CaptureError) -> BPFProgram {
        let program = BPFProgram()
        let status = pcap_compile(
            handle, program.storage, expression, optimize ? 1 : 0, PCAP_NETMASK_UNKNOWN)
        guard status == 0 else {
            throw CaptureError(.filterSyntax, source: sourceName, message: lastError)
        }
        program.compiled = true
        return program
    }

    /// Installs a compiled filter; for live captures the kernel runs it. C: `pcap_setfilter`.
    public func setFilter(_ program: BPFProgram) throws(CaptureError) {
        guard pcap_setfilter(handle, program.storage) == 0 else {
            throw CaptureError(.setFilter, source: sourceName, message: lastError)
        }
    }

    /// Delivers packets to `body` until the savefile ends or `breakLoop` is called.
    ///
    /// - Parameter batchEnd: called after each batch libpcap hands over (one kernel buffer for a
    ///   live capture; the whole file for a savefile), so callers can flush per batch.
    /// - Returns: true if the loop ended because of `breakLoop`, false at the end of a savefile.
    /// - Throws: `CaptureError.Kind.read` with libpcap's message, after every packet before the
    ///   failure has been delivered.
    /// The corresponding C function is `pcap_dispatch`.
    public func run(_ body: (CapturedFrame) -> Void, batchEnd: () -> Void = {}) throws(CaptureError) -> Bool {
        let outcome: Int32 = withoutActuallyEscaping(body) { escapable in
            let context = DispatchContext(body: escapable, nanoseconds: nanosecondTimestamps)
            return withExtendedLifetime(context) {
                let user = Unmanaged.passUnretained(context).toOpaque()
                while true {
                    let status = pcap_dispatch(handle, -1, dispatchCallback, user.assumingMemoryBound(to: UInt8.self))
                    batchEnd()
                    // 0 is end of file for a savefile and "timeout, nothing arrived" live.
                    if status < 0 { return status }
                    if status == 0 && isSavefile { return 0 }
                }
            }
        }
        switch outcome {
        case 0: return false
        case PCAP_ERROR_BREAK: return true
        default: throw CaptureError(.read, source: sourceName, message: lastError)
        }
    }

    /// Asks `run` to return after the current packet; safe from another thread or a signal
    /// handler. The corresponding C function is `pcap_breakloop`.
    public func breakLoop() { pcap_breakloop(handle) }

    /// The interface's counters. The corresponding C function is `pcap_stats`.
    public func statistics() throws(CaptureError) -> CaptureStatistics {
        var stats = pcap_stat()
        guard pcap_stats(handle, &stats) == 0 else {
            throw CaptureError(.statistics, source: sourceName, message: lastError)
        }
        return CaptureStatistics(
            received: UInt64(stats.ps_recv), droppedByKernel: UInt64(stats.ps_drop),
            droppedByInterface: UInt64(stats.ps_ifdrop))
    }

    /// Whether this handle reads a file. The corresponding C function is `pcap_file`.
    public var isSavefile: Bool { pcap_file(handle) != nil }

    /// libpcap's last message for this handle. The corresponding C function is `pcap_geterr`.
    var lastError: String { String(cString: pcap_geterr(handle)) }

    /// Runs a filter over one frame as the kernel would. C: `pcap_offline_filter`.
    public static func filter(_ program: BPFProgram, accepts frame: UnsafeRawBufferPointer, wireLength: Int) -> Bool {
        var header = pcap_pkthdr()
        header.caplen = UInt32(frame.count)
        header.len = UInt32(wireLength)
        guard let base = frame.baseAddress else { return false }
        return pcap_offline_filter(program.storage, &header, base.assumingMemoryBound(to: UInt8.self)) != 0
    }
}

/// A compiled BPF program. Owns libpcap's instruction array and frees it on deinit.
public final class BPFProgram: @unchecked Sendable {
    // @unchecked: immutable after compilation; libpcap only reads it.
    fileprivate let storage = UnsafeMutablePointer<bpf_program>.allocate(capacity: 1)
    fileprivate var compiled = false

    fileprivate init() { storage.initialize(to: bpf_program()) }

    /// Number of BPF instructions.
    public var instructionCount: Int { Int(storage.pointee.bf_len) }

    deinit {
        // The corresponding C function is `pcap_freecode`.
        if compiled { pcap_freecode(storage) }
        storage.deallocate()
    }
}

/// The Swift closure behind libpcap's C callback.
private final class DispatchContext {
    let body: (CapturedFrame) -> Void
    let nanoseconds: Bool
    init(body: @escaping (CapturedFrame) -> Void, nanoseconds: Bool) {
        self.body = body
        self.nanoseconds = nanoseconds
    }
}

private func dispatchCallback(
    user: UnsafeMutablePointer<UInt8>?, header: UnsafePointer<pcap_pkthdr>?, bytes: UnsafePointer<UInt8>?
) {
    guard let user, let header, let bytes else { return }
    let h = header.pointee
    // `run` keeps the context alive for the whole loop, so borrowing it here needs no retain
    // and release per packet.
    Unmanaged<DispatchContext>.fromOpaque(user)._withUnsafeGuaranteedRef { context in
        let fraction = Int64(h.ts.tv_usec) &* (context.nanoseconds ? 1 : 1000)
        context.body(
            CapturedFrame(
                timestamp: Timestamp(nanoseconds: Int64(h.ts.tv_sec) &* 1_000_000_000 &+ fraction),
                bytes: UnsafeRawBufferPointer(start: bytes, count: Int(h.caplen)),
                wireLength: Int(h.len)))
    }
}

/// libpcap's error buffer (`PCAP_ERRBUF_SIZE` bytes).
struct ErrorBuffer {
    var bytes = [CChar](repeating: 0, count: Int(PCAP_ERRBUF_SIZE))

    mutating func withPointer<R>(_ body: (UnsafeMutablePointer<CChar>) -> R) -> R {
        bytes.withUnsafeMutableBufferPointer { body($0.baseAddress!) }
    }

    var message: String {
        let text = bytes.prefix { $0 != 0 }.map { UInt8(bitPattern: $0) }
        return String(decoding: text, as: UTF8.self)
    }
}
