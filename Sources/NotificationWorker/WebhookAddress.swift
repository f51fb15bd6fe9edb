import Foundation

/// Where a tenant's webhook may be delivered: the rules that keep a tenant's URL from reaching
/// the cluster's own network (docs/billing.md, "Webhooks").
///
/// `https` only, except to the hosts the operator allows (`COVENANT_WEBHOOK_ALLOWED_HOSTS`, as the
/// demo's local receiver), which may also use plain `http` and any address. Every other host is
/// resolved, and refused when any of its addresses lies in a range that is not the public
/// internet's: loopback, unspecified, private, carrier-grade NAT, link-local, unique-local,
/// multicast, reserved and documentation ranges, and IPv6 forms that embed an IPv4 address
/// (mapped, compatible, NAT64, 6to4, Teredo). The delivery connects to the address checked.
public struct WebhookAddressPolicy: Sendable, Hashable {
    /// Host names (lowercased) or address literals the operator allows as they are.
    public let allowedHosts: Set<String>

    public init(allowedHosts: Set<String> = []) {
        self.allowedHosts = Set(allowedHosts.map { $0.lowercased() })
    }

    /// From `COVENANT_WEBHOOK_ALLOWED_HOSTS`: host names or addresses, comma-separated.
    public init(environment: [String: String]) {
        let hosts = (environment["COVENANT_WEBHOOK_ALLOWED_HOSTS"] ?? "").split(separator: ",").map {
            $0.trimmingCharacters(in: .whitespaces)
        }
        self.init(allowedHosts: Set(hosts.filter { !$0.isEmpty }))
    }

    /// A URL's parts a delivery needs.
    public struct Target: Sendable, Hashable {
        public let scheme: String
        public let host: String
        public let port: Int
        /// Whether the operator allows this host as it is (no address check).
        public let isAllowedByOperator: Bool
    }

    /// The target of `url`, or the reason it is refused without being called.
    public func target(of url: String) -> Result<Target, WebhookFailure> {
        guard let parts = URLParts(url) else { return .failure(.invalidURL) }
        let allowed = allowedHosts.contains(parts.host.lowercased())
        guard parts.scheme == "https" || (parts.scheme == "http" && allowed) else {
            return .failure(.schemeNotAllowed)
        }
        return .success(
            Target(scheme: parts.scheme, host: parts.host, port: parts.port, isAllowedByOperator: allowed))
    }

    /// Whether a resolved address may be called.
    public static func isPublic(_ address: IPAddress) -> Bool {
        switch address {
        case .v4(let value): return isPublic(v4: value)
        case .v6(let bytes): return isPublic(v6: bytes)
        }
    }

    /// Refused IPv4 ranges: (network, prefix length).
    static let refusedV4: [(UInt32, Int)] = [
        (0x0000_0000, 8), (0x0A00_0000, 8), (0x6440_0000, 10), (0x7F00_0000, 8), (0xA9FE_0000, 16),
        (0xAC10_0000, 12), (0xC000_0000, 24), (0xC000_0200, 24), (0xC058_6300, 24), (0xC0A8_0000, 16),
        (0xC612_0000, 15), (0xC633_6400, 24), (0xCB00_7100, 24), (0xE000_0000, 4), (0xF000_0000, 4),
    ]

    static func isPublic(v4 value: UInt32) -> Bool {
        !refusedV4.contains { network, length in value >> (32 - length) == network >> (32 - length) }
    }

    static func isPublic(v6 bytes: [UInt8]) -> Bool {
        guard bytes.count == 16 else { return false }
        let first = bytes[0]
        let prefix96Zero = bytes[0..<10].allSatisfy { $0 == 0 }
        // ::/96 (unspecified, loopback, IPv4-compatible) and ::ffff:0:0/96 (IPv4-mapped).
        if prefix96Zero && (bytes[10..<12].allSatisfy { $0 == 0 } || bytes[10..<12].allSatisfy { $0 == 0xFF }) {
            return false
        }
        if first == 0xFF { return false }  // multicast
        if first & 0xFE == 0xFC { return false }  // fc00::/7 unique-local
        if first == 0xFE && bytes[1] & 0xC0 == 0x80 { return false }  // fe80::/10 link-local
        if first == 0xFE && bytes[1] & 0xC0 == 0xC0 { return false }  // fec0::/10 site-local
        if first == 0x20 && bytes[1] == 0x02 { return false }  // 2002::/16 6to4
        if first == 0x20 && bytes[1] == 0x01 && bytes[2] & 0xFE == 0x00 { return false }  // 2001::/23 (Teredo…)
        if first == 0x20 && bytes[1] == 0x01 && bytes[2] == 0x0D && bytes[3] == 0xB8 { return false }  // 2001:db8::/32
        if bytes[0..<4] == [0x00, 0x64, 0xFF, 0x9B] { return false }  // 64:ff9b::/96 and 64:ff9b:1::/48 NAT64
        if bytes[0..<8] == [0x01, 0x00, 0, 0, 0, 0, 0, 0] { return false }  // 100::/64 discard
        return first & 0xE0 == 0x20  // only 2000::/3 is global unicast
    }
}

/// An address a host name resolved to.
public enum IPAddress: Sendable, Hashable, CustomStringConvertible {
    case v4(UInt32)
    case v6([UInt8])

    public var description: String {
        switch self {
        case .v4(let value):
            return [24, 16, 8, 0].map { String((value >> UInt32($0)) & 0xFF) }.joined(separator: ".")
        case .v6(let bytes):
            return stride(from: 0, to: 16, by: 2).map {
                String(UInt16(bytes[$0]) << 8 | UInt16(bytes[$0 + 1]), radix: 16)
            }
            .joined(separator: ":")
        }
    }
}

/// Why a delivery failed, as `notification.failed` says it: a code, never an error's own text.
public enum WebhookFailure: Error, Sendable, Hashable {
    case invalidURL
    case schemeNotAllowed
    case addressNotAllowed
    case unresolvable
    case refused
    case timeout
    case tls
    case responseTooLarge
    case connectionFailed

    public var reason: String {
        switch self {
        case .invalidURL: "invalid_url"
        case .schemeNotAllowed: "scheme_not_allowed"
        case .addressNotAllowed: "address_not_allowed"
        case .unresolvable: "unresolvable"
        case .refused: "refused"
        case .timeout: "timeout"
        case .tls: "tls"
        case .responseTooLarge: "response_too_large"
        case .connectionFailed: "connection_failed"
        }
    }

    /// Failures that no retry can mend: the delivery fails at once.
    public var isFinal: Bool {
        switch self {
        case .invalidURL, .schemeNotAllowed, .addressNotAllowed: true
        default: false
        }
    }
}

/// The scheme, host and port of a URL, without Foundation's leniency: no user info, a host of
/// letters, digits, dots and hyphens or a bracketed IPv6 literal.
struct URLParts {
    let scheme: String
    let host: String
    let port: Int

    init?(_ url: String) {
        guard let schemeEnd = url.range(of: "://") else { return nil }
        scheme = url[..<schemeEnd.lowerBound].lowercased()
        let rest = url[schemeEnd.upperBound...]
        let authority = rest.prefix { $0 != "/" && $0 != "?" && $0 != "#" }
        guard !authority.contains("@"), !authority.isEmpty else { return nil }
        var hostPart = Substring(authority)
        var portText: Substring?
        if hostPart.hasPrefix("[") {
            guard let close = hostPart.firstIndex(of: "]") else { return nil }
            let after = hostPart[hostPart.index(after: close)...]
            host = String(hostPart[hostPart.index(after: hostPart.startIndex)..<close])
            if after.hasPrefix(":") { portText = after.dropFirst() } else if !after.isEmpty { return nil }
        } else {
            if let colon = hostPart.lastIndex(of: ":") {
                portText = hostPart[hostPart.index(after: colon)...]
                hostPart = hostPart[..<colon]
            }
            guard
                hostPart.allSatisfy({ $0.isASCII && ($0.isLetter || $0.isNumber || $0 == "." || $0 == "-") }),
                !hostPart.isEmpty
            else { return nil }
            host = String(hostPart)
        }
        if let portText {
            guard let number = Int(portText), (1...65_535).contains(number) else { return nil }
            port = number
        } else {
            port = scheme == "https" ? 443 : 80
        }
    }
}
