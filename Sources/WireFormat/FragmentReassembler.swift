/// Reassembles the transport headers of fragmented IPv4 and IPv6 datagrams, in packet time and
/// fixed memory, so that a probe sent in fragments (nmap -f, --mtu 8/16) reaches the detector as
/// the SYN it is.
///
/// `decode` is `PacketDecoder.decode` plus reassembly: a whole datagram costs one more test, and
/// a fragment is taken in and answered `.fragment` until its datagram's transport header is
/// complete. That fragment's call then yields the `DecodedPacket` the datagram would have given
/// had it arrived whole: the same fields, with the IP fields (TTL, time) of the first fragment
/// and `payloadLength` from the datagram's length once its last fragment is seen (else from the
/// furthest fragment seen). The datagram is handed on once: its key is then remembered as done,
/// and its later fragments are taken in silently.
///
/// Only the first `headerBytes` bytes of each datagram's fragmentable part are kept, never
/// payload: the detector reads headers. A datagram is keyed as its receiver keys it: source,
/// destination, identification and protocol for IPv4 (RFC 791); source, destination and the
/// fragment header's identification for IPv6 (RFC 8200).
///
/// Memory is allocated once: `capacity` datagrams in buckets of `ways`, where a new datagram
/// takes an empty entry or else the bucket's oldest (oldest first, whether complete or not), and
/// each entry lapses `timeout` of packet time after its first fragment arrived. A flood of
/// fragments evicts; it never grows memory. Nothing is allocated per packet.
///
/// Overlapping fragments (Teardrop, or the Ptacek–Newsham evasions that send two versions of a
/// header) are counted, and the **first** copy of each byte wins: Windows' policy, and the BSDs'
/// unless the later fragment starts earlier. Linux discards a datagram with overlapping
/// fragments altogether (RFC 5722 for IPv6, likewise for IPv4 since 4.19), so such a probe may
/// never reach a Linux target; it is still a probe sent, and reported as one.
///
/// Not thread-safe, and no lock: one per capture thread.
public final class FragmentReassembler {
    /// Bytes kept per datagram, from the start of its fragmentable part: 64.
    ///
    /// A TCP header is at most 60 bytes, the part of an ICMP error the decoder reads at most 52
    /// (8, a quoted 40-byte IPv6 header, 4 bytes of ports; a quoted IPv4 header with options can
    /// reach 72, and its ports are then lost), a UDP header 8: 64 holds each, and
    /// makes the per-byte presence maps one 64-bit word. Structural (the maps), not an option.
    /// Bytes past it count as not captured, like bytes past the snaplen: a transport header that
    /// starts beyond them (more than 64 bytes of IPv6 extension headers after the fragment
    /// header) decodes as truncated.
    public static let headerBytes = 64
    /// Datagrams being reassembled (or remembered as done) at once, by default: 1,024, about
    /// 170 KiB per capture thread (168 bytes each: 104 of entry, 64 of header bytes).
    ///
    /// A datagram's fragments travel together (nmap's within microseconds of each other, an
    /// operating system's in one send), so an entry has to outlive only the datagrams that
    /// arrive interleaved with it; 1,024 of them is a wide margin, and the table stays in a
    /// core's L2 cache. Linux bounds its own reassembly by memory (`ipfrag_high_thresh`, 4 MiB).
    public static let defaultCapacity = 1024
    /// How long a datagram waits for its missing fragments, and is then remembered as done, by
    /// default: 30 s of packet time after its first fragment arrived.
    ///
    /// Linux's `ipfrag_time` and the BSDs' `IPFRAGTTL` are 30 s (RFC 8200 allows 60 s for
    /// IPv6): a fragment later than that completes nothing at the receiver either.
    public static let defaultTimeout = Duration.seconds(30)
    /// Entries per bucket: 8. A fragment compares at most 8 keys, also under a flood, and a new
    /// datagram evicts the oldest of 8 candidates.
    static let ways = 8

    /// Datagrams this reassembler can hold: `capacity` rounded up to whole buckets.
    public let capacity: Int
    /// Datagrams handed on whole (or as malformed, when the reassembled header is).
    public private(set) var reassembled = 0
    /// Fragments that brought other bytes for header bytes an earlier fragment of their datagram
    /// had covered (the same bytes again, a mirrored copy, do not count).
    public private(set) var overlapping = 0
    /// Incomplete datagrams evicted to make room before their timeout: fragments arriving
    /// interleaved with more than a bucket's worth of other datagrams, or a flood.
    public private(set) var evicted = 0
    /// Incomplete datagrams given up after the timeout: a fragment lost, or never sent.
    public private(set) var timedOut = 0

    private let decoder = PacketDecoder()
    private let buckets: Int
    private let timeout: Int64
    private let entries: UnsafeMutablePointer<Entry>
    /// `headerBytes` per entry: the first bytes of its datagram's fragmentable part.
    private let bytes: UnsafeMutableRawPointer

    /// Allocates the table.
    ///
    /// - Parameters:
    ///   - capacity: datagrams held at once, at least 1; rounded up to a multiple of 8.
    ///   - timeout: packet time after its first fragment at which a datagram is forgotten.
    public init(capacity: Int = defaultCapacity, timeout: Duration = defaultTimeout) {
        precondition(capacity >= 1, "FragmentReassembler capacity must be at least 1")
        buckets = (capacity + Self.ways - 1) / Self.ways
        self.capacity = buckets * Self.ways
        self.timeout = timeout.nanosecondCount
        entries = .allocate(capacity: self.capacity)
        entries.initialize(repeating: Entry(), count: self.capacity)
        bytes = .allocate(byteCount: self.capacity * Self.headerBytes, alignment: 64)
        bytes.initializeMemory(as: UInt8.self, repeating: 0, count: self.capacity * Self.headerBytes)
    }

    deinit {
        entries.deinitialize(count: capacity)
        entries.deallocate()
        bytes.deallocate()
    }

    /// Decodes one captured frame, reassembling fragmented datagrams.
    ///
    /// - Parameters: as `PacketDecoder.decode(_:wireLength:linkType:timestamp:into:)`.
    /// - Returns: `.decoded` for a whole datagram, and for the fragment that completes a
    ///   datagram's transport header (`packet` then holds the datagram); `.fragment` for any
    ///   other fragment (`packet` holds its IP fields only); `.notIP` or `.malformed` as the
    ///   decoder says, or `.malformed` when a reassembled header is.
    public func decode(
        _ frame: UnsafeRawBufferPointer, wireLength: Int, linkType: LinkType, timestamp: Timestamp,
        into packet: inout DecodedPacket
    ) -> DecodeResult {
        var fragment = FragmentView()
        let result = decoder.decode(
            frame, wireLength: wireLength, linkType: linkType, timestamp: timestamp, into: &packet,
            fragment: &fragment)
        // The one test a whole datagram pays. A described fragment implies a frame.
        guard fragment.start >= 0, let base = frame.baseAddress else { return result }
        return reassemble(fragment, in: base, decoded: result, &packet)
    }

    /// Takes one fragment in; decodes its datagram when that completes the transport header.
    private func reassemble(
        _ fragment: FragmentView, in base: UnsafeRawPointer, decoded result: DecodeResult,
        _ packet: inout DecodedPacket
    ) -> DecodeResult {
        // The decoder's verdict on a fragment alone does not count (a header may go on in the
        // next fragment), except on a first IPv6 fragment whose header chain it could not walk:
        // nothing says where its transport header starts.
        if fragment.offset == 0 && fragment.transport < 0 { return result }
        let slot = entry(for: packet)
        let entry = entries + slot
        let buffer = bytes + slot * Self.headerBytes
        if entry.pointee.state == .done && fragment.offset == 0 && !Self.repeats(fragment, base, entry.pointee, buffer)
        {
            // A different first fragment under a finished key: the sender reused its IP ID for a
            // new datagram (a scanner that keeps one would otherwise get one probe through per
            // `timeout`). The same bytes again are a copy, and stay ignored.
            let done = entry.pointee
            entry.pointee = Entry(
                source: done.source, destination: done.destination, identification: done.identification,
                keyProtocol: done.keyProtocol, arrival: packet.timestamp.nanoseconds)
        }
        guard entry.pointee.state == .collecting else { return .fragment }

        let start = fragment.offset
        let wireEnd = start + fragment.length
        entry.pointee.extent = max(entry.pointee.extent, wireEnd)
        if !fragment.more && entry.pointee.total < 0 { entry.pointee.total = wireEnd }
        if start < Self.headerBytes {
            let covered = Self.byteMask(start, min(wireEnd, Self.headerBytes))
            // First copy wins: a byte an earlier fragment covered is not taken again, even when
            // that fragment's copy was cut by the snaplen.
            let fresh = covered & ~entry.pointee.covered
            entry.pointee.covered |= covered
            // The one bounds check: the copy stops at the fragment's captured end, which the
            // decoder checked lies inside the frame, and at the buffer's end.
            let copyEnd = min(start + (fragment.capturedEnd - fragment.start), Self.headerBytes)
            // An overlap that says something else is the evasion; the same bytes again (a span
            // port mirroring a fragment twice) are not.
            for index in start..<copyEnd where (covered & ~fresh & entry.pointee.captured) & (1 << UInt64(index)) != 0 {
                // Safe: as for the copy below.
                if base.load(fromByteOffset: fragment.start + index - start, as: UInt8.self)
                    != buffer.load(fromByteOffset: index, as: UInt8.self)
                {
                    overlapping += 1
                    break
                }
            }
            for index in start..<copyEnd where fresh & (1 << UInt64(index)) != 0 {
                // Safe: `index - start` < captured bytes of this fragment; `index` < headerBytes.
                buffer.storeBytes(
                    of: base.load(fromByteOffset: fragment.start + index - start, as: UInt8.self),
                    toByteOffset: index, as: UInt8.self)
            }
            entry.pointee.captured |= fresh & Self.byteMask(start, copyEnd)
        }
        if start == 0 && !entry.pointee.hasFirstFragment {
            // The first fragment's IP header stands for the datagram's.
            entry.pointee.hasFirstFragment = true
            entry.pointee.ttl = packet.ttl
            entry.pointee.firstFragmentTime = packet.timestamp
            entry.pointee.transportProtocol = packet.ipProtocol
            entry.pointee.transportStart = fragment.transport - fragment.start
        }
        guard let capturedEnd = Self.headerIsComplete(entry.pointee, buffer) else { return .fragment }

        entry.pointee.state = .done
        reassembled += 1
        let transportStart = entry.pointee.transportStart
        let transportLength = (entry.pointee.total >= 0 ? entry.pointee.total : entry.pointee.extent) - transportStart
        packet = DecodedPacket()
        packet.timestamp = entry.pointee.firstFragmentTime
        packet.source = entry.pointee.source
        packet.destination = entry.pointee.destination
        packet.ipVersion = entry.pointee.source.isIPv4 ? 4 : 6
        packet.ttl = entry.pointee.ttl
        packet.ipID = entry.pointee.identification
        packet.ipProtocol = entry.pointee.transportProtocol
        // Safe: the decoder reads below `capturedEnd`, inside the captured prefix of the buffer.
        return decoder.decodeTransport(
            UnsafeRawPointer(buffer), transportStart, capturedEnd, max(transportLength, 0),
            packet.ipProtocol, moreFragments: false, &packet)
    }

    /// The end of the buffer's captured prefix when the transport header is complete: the
    /// decoder can read it as if the datagram had arrived whole. Nil while bytes are missing.
    ///
    /// Complete means the first fragment is in, and every byte up to the header's end is either
    /// captured or lost to the snaplen (covered on the wire), or the datagram ends first: TCP its
    /// data offset (20 bytes while unknown), UDP 8, ICMP 8, an ICMP error all `headerBytes` for
    /// its quote, other protocols nothing. The header's end is capped at `headerBytes`.
    private static func headerIsComplete(_ entry: Entry, _ buffer: UnsafeMutableRawPointer) -> Int? {
        guard entry.hasFirstFragment else { return nil }
        let captured = (~entry.captured).trailingZeroBitCount
        let start = entry.transportStart
        let needed: Int
        switch entry.transportProtocol {
        case 6:
            // Safe: byte `start + 12` is inside the captured prefix.
            needed =
                captured >= start + 13
                ? max(20, Int(buffer.load(fromByteOffset: start + 12, as: UInt8.self) >> 4) * 4) : 20
        case 17:
            needed = 8
        case 1, 58:
            // Safe: byte `start` is inside the captured prefix.
            let isError =
                captured > start
                && PacketDecoder.isICMPError(
                    entry.transportProtocol, buffer.load(fromByteOffset: start, as: UInt8.self))
            needed = isError ? headerBytes : 8
        default:
            needed = 0
        }
        var end = min(start + needed, headerBytes)
        if entry.total >= 0 { end = min(end, entry.total) }
        return (~entry.covered).trailingZeroBitCount >= end ? captured : nil
    }

    /// Whether a first fragment's captured bytes are the ones its finished datagram began with.
    private static func repeats(
        _ fragment: FragmentView, _ base: UnsafeRawPointer, _ entry: Entry, _ buffer: UnsafeMutableRawPointer
    ) -> Bool {
        // Safe: as for the copy in `reassemble`, bounded by the captured end and the buffer.
        let end = min(fragment.capturedEnd - fragment.start, headerBytes)
        for index in 0..<end where entry.captured & (1 << UInt64(index)) != 0 {
            if base.load(fromByteOffset: fragment.start + index, as: UInt8.self)
                != buffer.load(fromByteOffset: index, as: UInt8.self)
            {
                return false
            }
        }
        return true
    }

    /// The entry for `packet`'s datagram: its own when it is held and has not lapsed, else a
    /// fresh one in place of an empty entry or the bucket's oldest.
    private func entry(for packet: DecodedPacket) -> Int {
        let now = packet.timestamp.nanoseconds
        // RFC 8200 keys IPv6 fragments without a protocol; RFC 791 keys IPv4 ones with it.
        let keyProtocol = packet.ipVersion == 4 ? packet.ipProtocol : 0
        let first =
            Int(
                Self.hash(packet.source, packet.destination, packet.ipID, keyProtocol) % UInt64(buckets))
            * Self.ways
        var victim = first
        var victimArrival = Int64.max
        for slot in first..<first + Self.ways {
            let entry = entries + slot
            guard entry.pointee.state != .empty else {
                // An empty entry beats any occupied one.
                if victimArrival != .min {
                    victim = slot
                    victimArrival = .min
                }
                continue
            }
            if entry.pointee.identification == packet.ipID && entry.pointee.keyProtocol == keyProtocol
                && entry.pointee.source == packet.source && entry.pointee.destination == packet.destination
            {
                guard now &- entry.pointee.arrival > timeout else { return slot }
                victim = slot  // lapsed: the same key now names a new datagram
                break
            }
            if entry.pointee.arrival < victimArrival {
                victim = slot
                victimArrival = entry.pointee.arrival
            }
        }
        let entry = entries + victim
        if entry.pointee.state == .collecting {
            if now &- entry.pointee.arrival > timeout { timedOut += 1 } else { evicted += 1 }
        }
        entry.pointee = Entry(
            source: packet.source, destination: packet.destination, identification: packet.ipID,
            keyProtocol: keyProtocol, arrival: now)
        return victim
    }

    /// Bucket choice. Unkeyed, so runs are reproducible: crafted keys that share a bucket evict
    /// each other, but so does any flood of more datagrams than `capacity`, and a sender can only
    /// hide its own probes that way, which it could as well not send.
    private static func hash(_ source: IPAddress, _ destination: IPAddress, _ id: UInt32, _ proto: UInt8) -> UInt64 {
        var h = mix(source.high ^ 0x9E37_79B9_7F4A_7C15)
        h = mix(h ^ source.low)
        h = mix(h ^ destination.high)
        h = mix(h ^ destination.low)
        return mix(h ^ (UInt64(id) << 8 | UInt64(proto)))
    }

    /// SplitMix64's finaliser: every input bit reaches every output bit.
    private static func mix(_ value: UInt64) -> UInt64 {
        var z = value &* 0xBF58_476D_1CE4_E5B9
        z = (z ^ (z >> 27)) &* 0x94D0_49BB_1331_11EB
        return z ^ (z >> 31)
    }

    /// Bits `lower..<upper` set, for byte positions in a 64-byte buffer.
    private static func byteMask(_ lower: Int, _ upper: Int) -> UInt64 {
        guard upper > lower else { return 0 }
        // A shift by 64 gives 0 in Swift, so a full range wraps to all ones.
        return ((1 << UInt64(upper - lower)) &- 1) << UInt64(lower)
    }

    /// One datagram being reassembled, or remembered as done.
    private struct Entry {
        enum State: UInt8 { case empty, collecting, done }

        var source = IPAddress(high: 0, low: 0)
        var destination = IPAddress(high: 0, low: 0)
        var identification: UInt32 = 0
        /// IPv4's protocol; 0 for IPv6, whose key has none.
        var keyProtocol: UInt8 = 0
        var state = State.empty
        /// Packet time of the datagram's first fragment to arrive: its age, for the timeout and
        /// for eviction.
        var arrival: Int64 = 0
        /// Set by the fragment at offset 0, with the fields below it.
        var hasFirstFragment = false
        var ttl: UInt8 = 0
        var transportProtocol: UInt8 = 0
        var firstFragmentTime = Timestamp.zero
        /// Where the transport header starts in the fragmentable part: 0 for IPv4, after any
        /// extension headers that follow the IPv6 fragment header.
        var transportStart = 0
        /// The datagram's fragmentable length, once its last fragment is seen; else -1.
        var total = -1
        /// The furthest byte any fragment reached.
        var extent = 0
        /// Buffer bytes some fragment covered on the wire, and those it also captured.
        var covered: UInt64 = 0
        var captured: UInt64 = 0

        init() {}

        init(source: IPAddress, destination: IPAddress, identification: UInt32, keyProtocol: UInt8, arrival: Int64) {
            self.source = source
            self.destination = destination
            self.identification = identification
            self.keyProtocol = keyProtocol
            self.state = .collecting
            self.arrival = arrival
        }
    }
}
