// OpenSSL's libcrypto as DShieldCrypto sees it: the one-shot HMAC call, base64,
// the random generator and the error queue. Only public headers; no macro shims are needed.
#include <openssl/err.h>
#include <openssl/evp.h>
#include <openssl/hmac.h>
#include <openssl/rand.h>
