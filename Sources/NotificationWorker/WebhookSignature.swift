import Crypto
import Foundation

/// How Covenant signs a webhook: as Standard Webhooks specifies, so an integrator verifies it with
/// an existing library. Headers `webhook-id` (the event id), `webhook-timestamp` (Unix seconds)
/// and `webhook-signature`: `v1,` and the base64 HMAC-SHA256 of `"<id>.<timestamp>.<body>"`, once
/// for each of the tenant's secrets (two during a rotation), separated by spaces. A secret
/// written `whsec_<base64>` is used as the bytes it encodes (the Standard Webhooks form); any
/// other as its UTF-8 bytes. A receiver refuses a timestamp far from its clock (a replay).
public enum WebhookSignature {
    public static let idHeader = "webhook-id"
    public static let timestampHeader = "webhook-timestamp"
    public static let signatureHeader = "webhook-signature"

    /// The `webhook-signature` value for `secrets`.
    public static func signature(id: String, timestamp: Int64, body: [UInt8], secrets: [String]) -> String {
        secrets.map { "v1," + sign(id: id, timestamp: timestamp, body: body, secret: $0) }.joined(separator: " ")
    }

    /// Whether any `v1` signature of `header` is the one `secret` gives (compared in constant time).
    public static func verify(header: String, id: String, timestamp: Int64, body: [UInt8], secret: String) -> Bool {
        let expected = Array(sign(id: id, timestamp: timestamp, body: body, secret: secret).utf8)
        return header.split(separator: " ").contains { part in
            guard part.hasPrefix("v1,") else { return false }
            let given = Array(part.dropFirst(3).utf8)
            guard given.count == expected.count else { return false }
            return zip(expected, given).reduce(UInt8(0)) { $0 | ($1.0 ^ $1.1) } == 0
        }
    }

    /// The key a secret stands for.
    static func key(_ secret: String) -> SymmetricKey {
        if secret.hasPrefix("whsec_"), let bytes = Data(base64Encoded: String(secret.dropFirst(6))) {
            return SymmetricKey(data: bytes)
        }
        return SymmetricKey(data: Array(secret.utf8))
    }

    static func sign(id: String, timestamp: Int64, body: [UInt8], secret: String) -> String {
        var message = Array("\(id).\(timestamp).".utf8)
        message += body
        return Data(HMAC<SHA256>.authenticationCode(for: message, using: key(secret))).base64EncodedString()
    }
}
