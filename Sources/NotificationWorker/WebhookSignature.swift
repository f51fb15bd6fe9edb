import Crypto

/// How Covenant signs a webhook: HMAC-SHA256 with the tenant's secret over the timestamp, a
/// dot and the body, sent as `Covenant-Signature: v1=<hex>` beside `Covenant-Timestamp:
/// <unix seconds>`. A receiver recomputes it, compares in constant time, and refuses a
/// timestamp far from its clock (a replay).
public enum WebhookSignature {
    public static let timestampHeader = "Covenant-Timestamp"
    public static let signatureHeader = "Covenant-Signature"
    public static let eventIdHeader = "Covenant-Event-Id"

    /// `v1=` and the hex HMAC-SHA256 of `"<timestamp>.<body>"`.
    public static func signature(body: [UInt8], timestamp: Int64, secret: String) -> String {
        let key = SymmetricKey(data: Array(secret.utf8))
        var message = Array("\(timestamp).".utf8)
        message += body
        let code = HMAC<SHA256>.authenticationCode(for: message, using: key)
        return "v1=" + code.map { byte in String(byte, radix: 16).leftPadded(to: 2) }.joined()
    }

    /// Whether `signature` is the one `body` and `timestamp` call for (compared in constant time).
    public static func verify(signature: String, body: [UInt8], timestamp: Int64, secret: String) -> Bool {
        let expected = Array(Self.signature(body: body, timestamp: timestamp, secret: secret).utf8)
        let given = Array(signature.utf8)
        guard expected.count == given.count else { return false }
        return zip(expected, given).reduce(UInt8(0)) { $0 | ($1.0 ^ $1.1) } == 0
    }
}

extension String {
    fileprivate func leftPadded(to width: Int) -> String {
        count >= width ? self : String(repeating: "0", count: width - count) + self
    }
}
