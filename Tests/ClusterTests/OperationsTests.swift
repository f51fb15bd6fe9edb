import AMQPClient
import CovenantMessages
import Foundation
import FoundationNetworking
import TestSupport
import Testing
import WorkerRuntime

/// An HTTP GET: status and body.
func get(_ url: String) async -> (Int, String)? {
    guard let address = URL(string: url) else { return nil }
    guard let (body, response) = try? await URLSession.shared.data(from: address),
        let http = response as? HTTPURLResponse
    else { return nil }
    return (http.statusCode, String(decoding: body, as: UTF8.self))
}

extension ProvisioningProcessTests {
    @Test("A worker serves /health and Prometheus /metrics; no secret reaches its log")
    func healthAndMetrics() async throws {
        let url = try #require(ProcessInfo.processInfo.environment["AMQP_URL"], "AMQP_URL is not set")
        let configuration = try AMQPConfiguration(url: url, connectionName: "operations-test")
        let tenant = "t-\(UUID().uuidString.prefix(8))"
        let port = Int.random(in: 30_000...60_000)
        let log = NSTemporaryDirectory() + "covenant-ops-\(UUID().uuidString).log"
        let workers = ChildGroup()
        workers.add(
            try launch(
                "covenant-provisioning",
                [
                    "COVENANT_AMQP_URL": url, "COVENANT_HTTP_PORT": String(port),
                    "COVENANT_DATA_DIR": NSTemporaryDirectory() + "covenant-\(UUID().uuidString)",
                ], output: log))
        let deadline = ContinuousClock.now + .seconds(30)
        var health: (Int, String)?
        while ContinuousClock.now < deadline {
            health = await get("http://127.0.0.1:\(port)/health")
            if health?.0 == 200 { break }
            try await Task.sleep(for: .milliseconds(100))
        }
        let (status, body) = try #require(health, "no answer on /health")
        #expect(status == 200)
        let report = try #require(JSONValue.parse(Array(body.utf8)))
        #expect(report["status"] == .string("ready") && report["broker"] == .bool(true))
        #expect(report["database"] == .bool(true) && report["queue"] == .string("covenant.provisioning"))
        #expect(report["outbox_backlog"] == .number("0"))

        let publisher = AMQPPublisher(
            configuration: configuration, topology: AMQPTopology(exchanges: Topology.exchanges))
        _ = try await publisher.publish([
            command(
                "tenant.upsert",
                #"{"name":"Acme","platform_license":{"kind":"virtual","status":"active"},"service_contracts_enabled":true,"notification":{"webhook_url":"https://hooks.example/x","webhook_secret":"wh-secret-31337-0123456789abc"}}"#,
                id: "\(tenant)-1", tenant: tenant),
            command("plan.upsert", #"{"plan_id":"p"}"#, id: "\(tenant)-2", tenant: "\(tenant)-nobody"),
        ])
        var metrics = ""
        while ContinuousClock.now < deadline {
            metrics = await get("http://127.0.0.1:\(port)/metrics")?.1 ?? ""
            if metrics.contains(
                #"covenant_messages_rejected_total{queue="covenant.provisioning",code="invalid_message"} 1"#)
                && metrics.contains(#"covenant_messages_handled_total{queue="covenant.provisioning"} 1"#)
            {
                break
            }
            try await Task.sleep(for: .milliseconds(100))
        }
        #expect(metrics.contains(#"covenant_messages_handled_total{queue="covenant.provisioning"} 1"#), "\(metrics)")
        #expect(
            metrics.contains(
                #"covenant_messages_rejected_total{queue="covenant.provisioning",code="invalid_message"} 1"#))
        #expect(metrics.contains("covenant_message_handling_seconds_bucket"))
        #expect(metrics.contains(#"covenant_outbox_backlog{queue="covenant.provisioning"}"#))
        #expect(await get("http://127.0.0.1:\(port)/nothing")?.0 == 404)

        #expect(await workers.stop() == [0])
        await publisher.close()
        // The log names what happened, never a secret: not the webhook secret, not the broker's
        // password (the test broker's is `guest`, so look for the URL's credentials).
        let text = try String(contentsOfFile: log, encoding: .utf8)
        #expect(text.contains("operations endpoint listening"))
        #expect(!text.contains("wh-secret-31337-0123456789abc"))
        #expect(!text.contains("guest:guest"))
    }
}

extension ProvisioningProcessTests {
    @Test("A worker reaches the broker over TLS with the CA that signed it, and never with another")
    func workerOverTLS() async throws {
        let environment = ProcessInfo.processInfo.environment
        let url = try #require(environment["AMQPS_URL"], "AMQPS_URL is not set")
        let certificates = try #require(environment["COVENANT_TEST_CERTS"], "COVENANT_TEST_CERTS is not set")
        func start(ca: String) throws -> (ChildGroup, Int) {
            let port = Int.random(in: 30_000...60_000)
            let workers = ChildGroup()
            workers.add(
                try launch(
                    "covenant-provisioning",
                    [
                        "COVENANT_AMQP_URL": url, "COVENANT_HTTP_PORT": String(port),
                        "COVENANT_AMQP_CA_FILE": "\(certificates)/\(ca)",
                        "COVENANT_AMQP_CERT_FILE": "\(certificates)/client.pem",
                        "COVENANT_AMQP_KEY_FILE": "\(certificates)/client-key.pem",
                        "COVENANT_DATA_DIR": NSTemporaryDirectory() + "covenant-\(UUID().uuidString)",
                    ]))
            return (workers, port)
        }
        func health(_ port: Int, until ready: Bool) async throws -> JSONValue? {
            let deadline = ContinuousClock.now + .seconds(20)
            var last: JSONValue?
            while ContinuousClock.now < deadline {
                if let (status, body) = await get("http://127.0.0.1:\(port)/health") {
                    last = JSONValue.parse(Array(body.utf8))
                    if (status == 200) == ready { return last }
                }
                try await Task.sleep(for: .milliseconds(200))
            }
            return last
        }
        let (trusted, trustedPort) = try start(ca: "ca.pem")
        #expect(try await health(trustedPort, until: true)?["broker"] == .bool(true))
        #expect(await trusted.stop() == [0])
        // Trusting an unrelated CA, the worker refuses the broker: it stays up, not ready.
        let (refusing, refusingPort) = try start(ca: "other-ca.pem")
        try await Task.sleep(for: .seconds(2))
        let report = try await health(refusingPort, until: false)
        #expect(report?["broker"] == .bool(false) && report?["status"] == .string("not_ready"))
        #expect(await refusing.stop() == [0])
    }
}
