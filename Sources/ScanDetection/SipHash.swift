/// SipHash-1-3 (Aumasson & Bernstein; the variant Swift's `Hasher` and Rust's `HashMap` use)
/// over exactly two 64-bit words, with a key drawn once per process.
///
/// The table needs a hash that addresses chosen by an attacker cannot make collide, without
/// knowing the key. `Hasher` gives exactly that, but through non-inlined calls and a buffering
/// state machine that cost more than the hash itself on the per-packet path; this fixed-length
/// form computes the same function family in about 30 cycles.
struct SipHash13: Sendable {
    let k0: UInt64
    let k1: UInt64

    /// A key from the system's random generator.
    static func random() -> SipHash13 {
        SipHash13(k0: .random(in: .min ... .max), k1: .random(in: .min ... .max))
    }

    @inline(__always)
    func hash(_ m0: UInt64, _ m1: UInt64) -> UInt64 {
        var v0 = k0 ^ 0x736F_6D65_7073_6575
        var v1 = k1 ^ 0x646F_7261_6E64_6F6D
        var v2 = k0 ^ 0x6C79_6765_6E65_7261
        var v3 = k1 ^ 0x7465_6462_7974_6573
        @inline(__always)
        func round() {
            v0 &+= v1
            v1 = v1.rotatedLeft(13)
            v1 ^= v0
            v0 = v0.rotatedLeft(32)
            v2 &+= v3
            v3 = v3.rotatedLeft(16)
            v3 ^= v2
            v0 &+= v3
            v3 = v3.rotatedLeft(21)
            v3 ^= v0
            v2 &+= v1
            v1 = v1.rotatedLeft(17)
            v1 ^= v2
            v2 = v2.rotatedLeft(32)
        }
        // One compression round per message word, then the length block (16 bytes).
        v3 ^= m0
        round()
        v0 ^= m0
        v3 ^= m1
        round()
        v0 ^= m1
        let length = UInt64(16) << 56
        v3 ^= length
        round()
        v0 ^= length
        v2 ^= 0xFF
        round()
        round()
        round()
        return v0 ^ v1 ^ v2 ^ v3
    }
}

extension UInt64 {
    @inline(__always)
    func rotatedLeft(_ count: UInt64) -> UInt64 { (self << count) | (self >> (64 - count)) }
}
