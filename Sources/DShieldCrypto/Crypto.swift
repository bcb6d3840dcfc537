internal import CLibCrypto

/// A libcrypto failure, with OpenSSL's own message.
public struct CryptoError: Error, CustomStringConvertible, Sendable, Equatable {
    /// The libcrypto function that failed.
    public let function: String
    /// OpenSSL's text for the first error on its queue, or a note that the queue was empty.
    public let message: String

    public init(function: String, message: String) {
        self.function = function
        self.message = message
    }

    public var description: String { "\(function): \(message)" }

    /// The error for `function`, taking OpenSSL's message off its thread-local error queue (and
    /// clearing the rest, so a later failure does not report this one's cause).
    static func fromQueue(_ function: String) -> CryptoError {
        let code = ERR_get_error()
        defer { ERR_clear_error() }
        guard code != 0 else { return CryptoError(function: function, message: "failed (no OpenSSL error queued)") }
        // 256 bytes: OpenSSL documents 256 as enough for any error string.
        var buffer = [CChar](repeating: 0, count: 256)
        let message = buffer.withUnsafeMutableBufferPointer { pointer -> String in
            ERR_error_string_n(code, pointer.baseAddress, pointer.count)
            return String(cString: pointer.baseAddress!)
        }
        return CryptoError(function: function, message: message)
    }
}

/// HMAC-SHA256, base64 and random bytes from OpenSSL's libcrypto: the one Swift module over it.
public enum Crypto {
    /// HMAC-SHA256 of `message` under `key`.
    ///
    /// The corresponding C function is `HMAC` with `EVP_sha256`.
    public static func hmacSHA256(key: [UInt8], message: [UInt8]) throws(CryptoError) -> [UInt8] {
        guard key.count <= Int(Int32.max) else { throw CryptoError(function: "HMAC", message: "key longer than 2 GiB") }
        var digest = [UInt8](repeating: 0, count: Int(EVP_MAX_MD_SIZE))
        var length: UInt32 = 0
        let result = key.withUnsafeBytes { keyBytes in
            message.withUnsafeBufferPointer { input in
                HMAC(
                    EVP_sha256(), keyBytes.baseAddress, Int32(keyBytes.count), input.baseAddress, input.count, &digest,
                    &length)
            }
        }
        guard result != nil else { throw CryptoError.fromQueue("HMAC") }
        return Array(digest.prefix(Int(length)))
    }

    /// Standard base64 (RFC 4648 §4) with padding and without line breaks.
    ///
    /// The corresponding C function is `EVP_EncodeBlock`.
    public static func base64(_ bytes: [UInt8]) -> String {
        // EVP_EncodeBlock writes 4 characters per started group of 3 bytes, then a NUL.
        var output = [UInt8](repeating: 0, count: (bytes.count + 2) / 3 * 4 + 1)
        precondition(bytes.count <= Int(Int32.max) / 2, "base64 input too large for EVP_EncodeBlock")
        let written = bytes.withUnsafeBufferPointer { input in
            EVP_EncodeBlock(&output, input.baseAddress, Int32(input.count))
        }
        return String(decoding: output.prefix(Int(written)), as: UTF8.self)
    }

    /// `count` bytes from OpenSSL's cryptographically secure generator.
    ///
    /// The corresponding C function is `RAND_bytes`.
    public static func randomBytes(_ count: Int) throws(CryptoError) -> [UInt8] {
        var bytes = [UInt8](repeating: 0, count: count)
        guard RAND_bytes(&bytes, Int32(count)) == 1 else { throw CryptoError.fromQueue("RAND_bytes") }
        return bytes
    }
}
