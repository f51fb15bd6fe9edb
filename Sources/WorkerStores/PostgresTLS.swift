import Foundation
import PostgresNIO

/// The TLS a PostgreSQL URL asks for, as libpq reads it: `sslmode` (`disable`, `allow`,
/// `prefer` (the default), `require`, `verify-ca`, `verify-full`) and `sslrootcert` (the CA file
/// to trust; the system's when absent). `verify-full` checks the server's chain and that its
/// certificate names the URL's host; `verify-ca` the chain only; `require` only encrypts (and,
/// with `sslrootcert`, checks the chain, as libpq does); `prefer` and `allow` take TLS when the
/// server offers it.
enum PostgresTLS {
    static func configuration(_ url: URLComponents) throws -> PostgresClient.Configuration.TLS {
        let items = url.queryItems ?? []
        func value(_ name: String) -> String? { items.last { $0.name == name }?.value }
        var tls = TLSConfiguration.makeClientConfiguration()
        let root = value("sslrootcert")
        if let root {
            guard FileManager.default.isReadableFile(atPath: root) else {
                throw StoreError(.configuration, "the database URL's sslrootcert \(root) cannot be read")
            }
            tls.trustRoots = .file(root)
        }
        switch value("sslmode") ?? "prefer" {
        case "disable":
            return .disable
        case "allow", "prefer":
            tls.certificateVerification = .none
            return .prefer(tls)
        case "require":
            tls.certificateVerification = root == nil ? .none : .noHostnameVerification
            return .require(tls)
        case "verify-ca":
            tls.certificateVerification = .noHostnameVerification
            return .require(tls)
        case "verify-full":
            tls.certificateVerification = .fullVerification
            return .require(tls)
        case let other:
            throw StoreError(
                .configuration,
                "the database URL's sslmode must be disable, allow, prefer, require, verify-ca or verify-full, not \(other)"
            )
        }
    }
}
