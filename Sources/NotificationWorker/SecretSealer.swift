import Crypto
import Foundation

/// Webhook secrets at rest: sealed with AES-GCM under the operator's key before notification
/// stores them, opened only to sign a delivery. The key is 32 bytes, base64, from
/// `COVENANT_SECRETS_KEY_FILE` (a file, as a container secret mounts it) or `COVENANT_SECRETS_KEY`.
/// Without a key, secrets are kept as they came (the worker says so at start); a secret sealed
/// under one key is opened only with it.
public struct SecretSealer: Sendable {
    private let key: SymmetricKey?

    /// The prefix of a sealed secret as stored.
    static let sealedPrefix = "aesgcm:"

    init(key: SymmetricKey?) {
        self.key = key
    }

    /// No key: secrets kept as they came.
    public static let unsealed = SecretSealer(key: nil)

    /// Sealing under a 32-byte key given in base64.
    public init(base64Key: String) throws {
        guard let bytes = Data(base64Encoded: base64Key), bytes.count == 32 else {
            throw Invalid(description: "the secrets key must be 32 bytes in base64 (openssl rand -base64 32)")
        }
        self.init(key: SymmetricKey(data: bytes))
    }

    public struct Invalid: Error, CustomStringConvertible {
        public let description: String
    }

    /// The key the environment names; nil when it names none.
    public static func fromEnvironment(_ environment: [String: String]) throws -> SecretSealer {
        var text = environment["COVENANT_SECRETS_KEY"]
        if let path = environment["COVENANT_SECRETS_KEY_FILE"], !path.isEmpty {
            guard let contents = try? String(contentsOfFile: path, encoding: .utf8) else {
                throw Invalid(description: "COVENANT_SECRETS_KEY_FILE: cannot read \(path)")
            }
            text = contents
        }
        guard let text = text?.trimmingCharacters(in: .whitespacesAndNewlines), !text.isEmpty else {
            return SecretSealer(key: nil)
        }
        return try SecretSealer(base64Key: text)
    }

    public var isSealing: Bool { key != nil }

    /// What is stored for `secret`.
    public func seal(_ secret: String) throws -> String {
        guard let key else { return secret }
        let box = try AES.GCM.seal(Array(secret.utf8), using: key)
        guard let combined = box.combined else { throw Invalid(description: "AES-GCM gave no sealed form") }
        return Self.sealedPrefix + combined.base64EncodedString()
    }

    /// The secret a stored value stands for; a value stored before sealing is taken as it is.
    public func open(_ stored: String) throws -> String {
        guard stored.hasPrefix(Self.sealedPrefix) else { return stored }
        guard let key else { throw Invalid(description: "a sealed webhook secret and no secrets key to open it") }
        guard let bytes = Data(base64Encoded: String(stored.dropFirst(Self.sealedPrefix.count))) else {
            throw Invalid(description: "a sealed webhook secret is not base64")
        }
        do {
            return String(decoding: try AES.GCM.open(AES.GCM.SealedBox(combined: bytes), using: key), as: UTF8.self)
        } catch {
            throw Invalid(description: "a sealed webhook secret does not open with this secrets key")
        }
    }
}
