import DShieldCrypto
import DShieldReport
import Testing

@Suite struct CryptoTests {
    @Test func theAuthorizationHeaderReproducesTheReferenceTestVector() throws {
        let auth = try ISCAuthorization(
            userID: 12345, apiKey: "RG9jc0V4YW1wbGVLZXkxNg==", nonce: [0, 1, 2, 3, 4, 5, 6, 7])
        #expect(
            auth.headerValue
                == "ISC-HMAC-SHA256 Credentials=CXCOf7AqTKArfln14FXnwlhaNOM/OJ4tCSpIQ2RLRuU= Userid=12345 Nonce=AAECAwQFBgc="
        )
    }

    @Test func aFreshAuthorizationDrawsADifferentTwelveCharacterNonceEachTime() throws {
        let a = try ISCAuthorization.fresh(userID: 1, apiKey: "k")
        let b = try ISCAuthorization.fresh(userID: 1, apiKey: "k")
        #expect(a != b)
        let nonce = a.headerValue.split(separator: "Nonce=").last!
        #expect(nonce.count == 12 && nonce.hasSuffix("="))
    }

    @Test func base64PadsEveryRemainderLength() {
        #expect(Crypto.base64([]) == "")
        #expect(Crypto.base64(Array("f".utf8)) == "Zg==")
        #expect(Crypto.base64(Array("fo".utf8)) == "Zm8=")
        #expect(Crypto.base64(Array("foo".utf8)) == "Zm9v")
    }
}
