import CovenantMessages
import Foundation
import NotificationWorker
import Testing

@Suite("Webhooks cannot reach inside the cluster")
struct WebhookAddressPolicyTests {
    static func v4(_ text: String) -> IPAddress {
        let parts = text.split(separator: ".").map { UInt32($0)! }
        return .v4(parts.reduce(0) { $0 << 8 | $1 })
    }

    static func v6(_ hex: String) -> IPAddress {
        // 32 hex digits, no colons.
        var bytes: [UInt8] = []
        var index = hex.startIndex
        while index < hex.endIndex {
            let next = hex.index(index, offsetBy: 2)
            bytes.append(UInt8(hex[index..<next], radix: 16)!)
            index = next
        }
        return .v6(bytes)
    }

    @Test("Loopback, private, carrier-grade NAT, link-local, unique-local and reserved addresses are refused")
    func ranges() {
        for address in [
            "127.0.0.1", "10.1.2.3", "172.16.0.1", "172.31.255.255", "192.168.1.1", "100.64.0.1", "100.127.255.255",
            "169.254.169.254", "0.0.0.0", "224.0.0.1", "255.255.255.255", "192.0.2.10", "198.18.0.1",
        ] {
            #expect(!WebhookAddressPolicy.isPublic(Self.v4(address)), "\(address)")
        }
        for address in ["8.8.8.8", "1.1.1.1", "172.32.0.1", "100.128.0.1", "93.184.216.34"] {
            #expect(WebhookAddressPolicy.isPublic(Self.v4(address)), "\(address)")
        }
        for hex in [
            "00000000000000000000000000000001",  // ::1
            "00000000000000000000000000000000",  // ::
            "00000000000000000000ffff7f000001",  // ::ffff:127.0.0.1
            "fd000000000000000000000000000001",  // unique-local
            "fe800000000000000000000000000001",  // link-local
            "ff020000000000000000000000000001",  // multicast
            "0064ff9b00000000000000000a000001",  // NAT64 of 10.0.0.1
            "20020a00000100000000000000000001",  // 6to4 of 10.0.0.1
            "20010000000000000000000000000001",  // Teredo
            "20010db8000000000000000000000001",  // documentation
        ] {
            #expect(!WebhookAddressPolicy.isPublic(Self.v6(hex)), "\(hex)")
        }
        #expect(WebhookAddressPolicy.isPublic(Self.v6("26064700470000000000000068151d1f")))
    }

    @Test("https only, but to hosts the operator allows; no user info, no other scheme")
    func targets() {
        let policy = WebhookAddressPolicy(allowedHosts: ["127.0.0.1", "Receiver.Local"])
        #expect(policy.target(of: "https://hooks.example/x").success?.port == 443)
        #expect(policy.target(of: "https://hooks.example:8443/x").success?.port == 8443)
        #expect(policy.target(of: "http://hooks.example/x").failure == .schemeNotAllowed)
        #expect(policy.target(of: "http://127.0.0.1:8080/x").success?.isAllowedByOperator == true)
        #expect(policy.target(of: "http://receiver.local/x").success?.isAllowedByOperator == true)
        #expect(policy.target(of: "unix:///var/run/docker.sock").failure == .invalidURL)
        #expect(policy.target(of: "http+unix://%2Fvar%2Frun/x").failure == .invalidURL)
        #expect(policy.target(of: "http+unix://receiver.local/x").failure == .schemeNotAllowed)
        #expect(policy.target(of: "https://user:pass@hooks.example/x").failure == .invalidURL)
        #expect(policy.target(of: "https://[::1]:443/x").success?.host == "::1")
        #expect(policy.target(of: "https://hooks.example:99999/x").failure == .invalidURL)
        #expect(policy.target(of: "ftp://hooks.example/x").failure == .schemeNotAllowed)
    }
}

extension Result {
    var success: Success? { if case .success(let value) = self { value } else { nil } }
    var failure: Failure? { if case .failure(let error) = self { error } else { nil } }
}
