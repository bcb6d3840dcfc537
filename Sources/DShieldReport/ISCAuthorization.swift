public import DShieldCrypto

/// The `X-ISC-Authorization` header of a submitapi request (reference §2.3).
///
/// The recipe is the official sensor's `makeauthheader()`, reproduced exactly, including its odd
/// roles: the HMAC *key* is the base64 nonce text followed by the decimal userid, and the
/// *message* is the API key string as stored (not base64-decoded). The signature proves
/// possession of the API key; it does not cover the body.
public struct ISCAuthorization: Sendable, Equatable {
    /// Random bytes per request; the official client draws 8 (a 12-character base64 nonce).
    public static let nonceLength = 8

    /// The full header value, `ISC-HMAC-SHA256 Credentials=… Userid=… Nonce=…`.
    public let headerValue: String

    /// Signs with the given nonce bytes; tests pass fixed bytes, `fresh` draws random ones.
    public init(userID: Int, apiKey: String, nonce: [UInt8]) throws(CryptoError) {
        let nonceText = Crypto.base64(nonce)
        let digest = try Crypto.hmacSHA256(key: Array((nonceText + String(userID)).utf8), message: Array(apiKey.utf8))
        headerValue = "ISC-HMAC-SHA256 Credentials=\(Crypto.base64(digest)) Userid=\(userID) Nonce=\(nonceText)"
    }

    /// Signs with a fresh random nonce, as every request must.
    public static func fresh(userID: Int, apiKey: String) throws(CryptoError) -> ISCAuthorization {
        try ISCAuthorization(userID: userID, apiKey: apiKey, nonce: Crypto.randomBytes(nonceLength))
    }
}
