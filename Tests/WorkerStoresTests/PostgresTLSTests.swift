import Foundation
import Logging
import Testing
import WorkerStores

@Suite("PostgreSQL over TLS, as sslmode asks")
struct PostgresTLSTests {
    func tlsURL() throws -> String {
        try #require(
            ProcessInfo.processInfo.environment["DATABASE_TLS_URL"],
            "DATABASE_TLS_URL is not set: run the tests through scripts/test")
    }

    /// Whether a store at `url` answers within ten seconds, and over TLS.
    func connects(_ url: String) async -> Bool? {
        guard
            let store = try? PostgresWorkerStore(
                url: url, role: .rating, schemaPrefix: "tls\(UUID().uuidString.prefix(6).lowercased())_",
                logger: Logger(label: "covenant.tests"))
        else { return nil }
        let answer = await withTaskGroup(of: Bool?.self) { group in
            group.addTask {
                await store.run()
                return nil
            }
            group.addTask { try? await store.usesTLS() }
            group.addTask {
                try? await Task.sleep(for: .seconds(10))
                return nil
            }
            let first = await group.next() ?? nil  // run() ends only when cancelled
            group.cancelAll()
            return first
        }
        try? await store.close()
        return answer
    }

    @Test("verify-full trusts the server's CA for the name it certifies; another CA or another name is refused")
    func verifyFull() async throws {
        let url = try tlsURL()
        #expect(await connects(url) == true)
        #expect(await connects(url.replacingOccurrences(of: "/ca.pem", with: "/other-ca.pem")) == nil)
        // The certificate names localhost, not 127.0.0.1: refused for verify-full, taken for verify-ca.
        let byAddress = url.replacingOccurrences(of: "@localhost:", with: "@127.0.0.1:")
        #expect(await connects(byAddress) == nil)
        #expect(await connects(byAddress.replacingOccurrences(of: "verify-full", with: "verify-ca")) == true)
    }

    @Test("disable is plain, prefer and require encrypt; an unknown sslmode or unreadable CA is refused at once")
    func modes() async throws {
        let url = try tlsURL()
        let base = String(url.prefix { $0 != "?" })
        #expect(await connects(base + "?sslmode=disable") == false)
        #expect(await connects(base + "?sslmode=require") == true)
        #expect(await connects(base) == true)  // prefer, libpq's default
        #expect(throws: StoreError.self) {
            try PostgresWorkerStore(url: base + "?sslmode=sometimes", role: .rating, logger: Logger(label: "t"))
        }
        #expect(throws: StoreError.self) {
            try PostgresWorkerStore(
                url: base + "?sslmode=verify-full&sslrootcert=/nonexistent/ca.pem", role: .rating,
                logger: Logger(label: "t"))
        }
    }
}
