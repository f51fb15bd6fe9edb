import AMQPClient
import CovenantMessages
import Foundation
import Glibc
import TestSupport
import Testing
import WorkerRuntime

extension ProvisioningProcessTests {
    @Test("covenant webhook resend: a delivery given up is sent again and arrives; an unknown event is refused")
    func webhookResend() async throws {
        let url = try #require(ProcessInfo.processInfo.environment["AMQP_URL"], "AMQP_URL is not set")
        let scripts = try #require(
            ProcessInfo.processInfo.environment["COVENANT_SCRIPTS"], "COVENANT_SCRIPTS is not set")
        let configuration = try AMQPConfiguration(url: url, connectionName: "resend-test")
        let tenant = "t-\(UUID().uuidString.prefix(8))"
        let data = NSTemporaryDirectory() + "covenant-\(UUID().uuidString)"
        try FileManager.default.createDirectory(atPath: data, withIntermediateDirectories: true)
        // The receiver fails its first request; the worker tries once, so it gives that one up.
        let receiver = try ChildProcess.spawn(
            "\(scripts)/webhook-receiver",
            arguments: [
                "--secret", "resend-secret-0123456789abcdef", "--port-file", "\(data)/hook.port", "--log",
                "\(data)/hook.log", "--fail-first", "1",
            ])
        defer {
            kill(receiver, SIGTERM)
            waitpid(receiver, nil, 0)
        }
        let environment = [
            "COVENANT_AMQP_URL": url, "COVENANT_DATA_DIR": data, "COVENANT_WEBHOOK_ALLOWED_HOSTS": "127.0.0.1",
            "COVENANT_WEBHOOK_ATTEMPTS": "1",
        ]
        let workers = ChildGroup()
        workers.add(try launch("covenant-provisioning", environment))
        workers.add(try launch("covenant-notification", environment))
        let integrator = Integrator(configuration, tenant: tenant)
        let deadline = ContinuousClock.now + .seconds(60)
        try await waitForWorkers(["covenant.provisioning", "covenant.notification"], configuration, until: deadline)
        var port: String?
        while port == nil, ContinuousClock.now < deadline {
            port = try? String(contentsOfFile: "\(data)/hook.port", encoding: .utf8)
            if port == nil { try await Task.sleep(for: .milliseconds(50)) }
        }
        let hook = "http://127.0.0.1:\(try #require(port))/hooks"
        let publisher = AMQPPublisher(
            configuration: configuration, topology: AMQPTopology(exchanges: Topology.exchanges))
        _ = try await publisher.publish([
            command(
                "tenant.upsert",
                #"{"name":"Acme","platform_license":{"kind":"virtual","status":"active"},"service_contracts_enabled":true,"notification":{"webhook_url":"\#(hook)","webhook_secret":"resend-secret-0123456789abcdef"}}"#,
                id: "\(tenant)-upsert", tenant: tenant)
        ])
        try await integrator.waitFor("tenant.updated", until: deadline)
        try await Task.sleep(for: .milliseconds(300))  // notification applies the settings
        let ready = CloudEvent(
            id: "\(tenant)-ready", source: "covenant/invoicing", type: "invoice.ready", time: "2025-02-01T00:00:00Z",
            tenantId: tenant, data: .object(["invoice_id": .string("INV-1"), "total": .string("1.00")]))
        _ = try await publisher.publish([
            OutgoingMessage(
                AMQPMessage(
                    body: ready.encoded(), messageId: ready.id, contentType: CloudEvent.contentType, type: ready.type),
                exchange: Topology.eventsExchange, routingKey: "\(tenant).\(ready.type)")
        ])
        try await integrator.waitFor("notification.failed", until: deadline)
        await publisher.close()

        let cli = ["COVENANT_AMQP_URL": url]
        let (status, output) = try await runTool(
            "covenant", ["webhook", "resend", ready.id, "--tenant", tenant], environment: cli)
        #expect(status == 0 && output.contains("notification.delivered"), "\(output)")
        let log = (try? String(contentsOfFile: "\(data)/hook.log", encoding: .utf8)) ?? ""
        #expect(log.components(separatedBy: ready.id).count - 1 == 2, "\(log)")

        let (refused, text) = try await runTool(
            "covenant", ["webhook", "resend", "\(tenant)-never", "--tenant", tenant], environment: cli)
        #expect(refused != 0 && text.contains("command.rejected"), "\(text)")
        await integrator.stop()
        #expect(await workers.stop() == [0, 0])
    }
}
