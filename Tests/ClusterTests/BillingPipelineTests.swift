import AMQPClient
import CovenantMessages
import Foundation
import Glibc
import TestSupport
import Testing
import WorkerRuntime

/// Where the workers of a process test keep their data.
enum Storage: String, Sendable, CustomTestStringConvertible {
    case sqlite
    case postgres

    var testDescription: String { rawValue }
}

extension ProvisioningProcessTests {
    @Test(
        "Every worker as a process, one or two replicas each, on SQLite or PostgreSQL: the worked examples' invoices reach an integrator's queue",
        arguments: [(1, Storage.sqlite), (2, .sqlite), (2, .postgres)])
    func billingPipeline(replicas: Int, storage: Storage) async throws {
        let url = try #require(ProcessInfo.processInfo.environment["AMQP_URL"], "AMQP_URL is not set")
        let configuration = try AMQPConfiguration(url: url, connectionName: "pipeline-test")
        let tenant = "t-\(UUID().uuidString.prefix(8))"
        let integrator = Integrator(configuration, tenant: tenant)
        let data = NSTemporaryDirectory() + "covenant-\(UUID().uuidString)"
        let roles = ["provisioning", "rating", "invoicing", "commitments", "notification"]
        let storeSettings: [String: String]
        switch storage {
        case .sqlite: storeSettings = ["COVENANT_DATA_DIR": data, "COVENANT_DATABASE_URL": ""]
        case .postgres:
            let database = try #require(ProcessInfo.processInfo.environment["DATABASE_URL"], "DATABASE_URL is not set")
            storeSettings = ["COVENANT_DATABASE_URL": database]
        }
        // The tenant's webhook: an integrator's receiver that checks every signature and fails
        // its first good request, so one delivery is retried.
        let scripts = try #require(
            ProcessInfo.processInfo.environment["COVENANT_SCRIPTS"], "COVENANT_SCRIPTS is not set")
        try FileManager.default.createDirectory(atPath: data, withIntermediateDirectories: true)
        let receiver = try ChildProcess.spawn(
            "\(scripts)/webhook-receiver",
            arguments: [
                "--secret", "hook-secret-0123456789abcdef", "--port-file", "\(data)/hook.port", "--log",
                "\(data)/hook.log",
                "--fail-first", "1",
            ])
        defer {
            kill(receiver, SIGTERM)
            waitpid(receiver, nil, 0)
        }
        let workers = ChildGroup()
        for role in roles {
            for _ in 0..<replicas {
                workers.add(
                    try launch(
                        "covenant-\(role)",
                        ["COVENANT_AMQP_URL": url, "COVENANT_WEBHOOK_ALLOWED_HOSTS": "127.0.0.1"].merging(
                            storeSettings
                        ) { $1 },
                        output: "\(data)/\(role).log"))
            }
        }
        let deadline = ContinuousClock.now + .seconds(90)
        try await waitForWorkers(roles.map { "covenant.\($0)" }, configuration, replicas: replicas, until: deadline)
        let publisher = AMQPPublisher(
            configuration: configuration, topology: AMQPTopology(exchanges: Topology.exchanges))
        var sequence = 0
        // Commands that depend on each other go one step at a time: competing replicas may take
        // two commands of one batch in either order.
        func step(_ commands: [(String, String)], then type: String, count: Int) async throws {
            _ = try await publisher.publish(
                commands.map { type, body in
                    sequence += 1
                    return command(type, body, id: "\(tenant)-\(sequence)", tenant: tenant)
                })
            try await integrator.waitFor(type, count: count, until: deadline)
            try #require(integrator.events.count(of: type) >= count, "no \(type) in time")
        }
        var port: String?
        while port == nil, ContinuousClock.now < deadline {
            port = try? String(contentsOfFile: "\(data)/hook.port", encoding: .utf8)
            if port == nil { try await Task.sleep(for: .milliseconds(50)) }
        }
        let hook = "http://127.0.0.1:\(try #require(port))/hooks"
        try await step(
            [
                (
                    "tenant.upsert",
                    #"{"name":"Acme","platform_license":{"kind":"virtual","status":"active"},"service_contracts_enabled":true,"notification":{"webhook_url":"\#(hook)","webhook_secret":"hook-secret-0123456789abcdef"}}"#
                )
            ], then: "tenant.updated", count: 1)
        try await step(
            [
                (
                    "plan.upsert",
                    #"{"plan_id":"vm","name":"VM Standard","currency":"INR","monthly_fee":"1000.00","service_type":"vm","usage_prices":[{"metric":"gb","model":"per_unit","unit_price":"0.10"}]}"#
                ),
                (
                    "plan.upsert",
                    #"{"plan_id":"vm-premium","name":"VM Premium","currency":"INR","monthly_fee":"2000.00","service_type":"vm"}"#
                ),
            ], then: "plan.updated", count: 2)
        try await step(
            [
                (
                    "service.provision",
                    #"{"customer_id":"cust-1","service_id":"vm-1","plan_id":"vm","start_date":"2025-01-15","billing_model":"fixed_term","payment_mode":"postpaid","contract":{"term_months":12,"monthly_fee":"1000.00","discount_percent":"10"}}"#
                ),
                (
                    "service.provision",
                    #"{"customer_id":"cust-1","service_id":"sim-1","plan_id":"vm","start_date":"2025-01-01","billing_model":"payg","payment_mode":"postpaid"}"#
                ),
                (
                    "service.provision",
                    #"{"customer_id":"cust-2","service_id":"sim-9","plan_id":"vm","start_date":"2025-01-01","billing_model":"fixed_term","payment_mode":"postpaid","contract":{"term_months":12,"monthly_fee":"100.00","commitments":[{"id":"sms","type":"usage","metric":"sms_mo_mb","frequency_months":1,"ramp":[{"from_window":1,"amount":"100"}],"penalty":{"kind":"tiered","tiers":[{"up_to":"50","unit_price":"0.10"},{"up_to":null,"unit_price":"0.20"}]}}]}}"#
                ),
            ], then: "service.activated", count: 3)
        try await step(
            [
                (
                    "usage.record",
                    #"{"customer_id":"cust-1","service_id":"sim-1","metric":"gb","quantity":"123.5","timestamp":"2025-01-20T10:00:00Z"}"#
                ),
                (
                    "usage.record",
                    #"{"customer_id":"cust-2","service_id":"sim-9","metric":"sms_mo_mb","quantity":"40","timestamp":"2025-01-20T10:00:00Z"}"#
                ),
            ], then: "usage.rated", count: 2)
        // Usage rated before a run is counted by it once invoicing and commitments took it in.
        try await Task.sleep(for: .seconds(1))
        try await step([("billing.run", #"{"as_of":"2025-02-01"}"#)], then: "billing.run.completed", count: 1)
        try await step(
            [("service.change_plan", #"{"service_id":"vm-1","plan_id":"vm-premium","effective_date":"2025-02-15"}"#)],
            then: "billing.run.completed", count: 2)
        try await step([("billing.run", #"{"as_of":"2025-03-01"}"#)], then: "billing.run.completed", count: 3)

        let totals = Dictionary(
            uniqueKeysWithValues: integrator.events.of("invoice.ready").map { event -> (String, JSONValue?) in
                (
                    event.data["invoice_id"].flatMap { if case .string(let id) = $0 { id } else { nil } } ?? "?",
                    event.data["total"]
                )
            })
        #expect(
            totals == [
                // 15–31 January less 10 % (493.55) and 123.5 GB × 0.10 (12.35).
                "INV-cust-1-20250201-INR": .string("505.90"),
                // 100.00 and the missed 100 MB: 60 short, 50 × 0.10 + 10 × 0.20.
                "INV-cust-2-20250201-INR": .string("107.00"),
                // The plan change: 1–14 February on the old plan at once.
                "INV-cust-1-20250215-INR": .string("450.00"),
                // 15–28 February on the premium plan, the 10 % kept.
                "INV-cust-1-20250301-INR": .string("900.00"),
                // February's window: nothing used, 50 × 0.10 + 50 × 0.20.
                "INV-cust-2-20250301-INR": .string("115.00"),
            ])
        #expect(integrator.events.of("billing.run.completed").count == 3)
        // The ops CLI shows what invoicing stored.
        let (status, shown) = try await runTool(
            "covenant", ["invoice", "show", "INV-cust-2-20250201-INR", "--tenant", tenant],
            environment: storeSettings)
        #expect(status == 0)
        #expect(shown.contains("commitment_shortfall  sim-9  Commitment sms shortfall, window 1"), "\(shown)")
        #expect(shown.contains("total 107.00"), "\(shown)")
        // Every invoice reached the webhook, signed; the receiver's refused first try was retried.
        var requests: [JSONValue] = []
        var deliveredInvoices: Set<JSONValue> = []
        while deliveredInvoices.count < 5, ContinuousClock.now < deadline {
            try await Task.sleep(for: .milliseconds(100))
            requests = ((try? String(contentsOfFile: "\(data)/hook.log", encoding: .utf8)) ?? "")
                .split(separator: "\n").compactMap { JSONValue.parse(Array($0.utf8)) }
            deliveredInvoices = Set(
                requests.filter { $0["type"] == .string("invoice.ready") && $0["status"] == .number("200") }
                    .compactMap { $0["event_id"] })
        }
        #expect(deliveredInvoices.count == 5)
        #expect(requests.allSatisfy { $0["verified"] == .bool(true) })
        #expect(requests.contains { $0["status"] == .number("500") })
        // The logs say which invoice was issued to whom, and never the webhook secret.
        for status in await workers.stop() { #expect(status == 0) }
        let invoicingLog = try String(contentsOfFile: "\(data)/invoicing.log", encoding: .utf8)
        #expect(
            invoicingLog.split(separator: "\n").contains {
                $0.contains("invoice issued") && $0.contains("invoice.id=INV-cust-2-20250201-INR")
                    && $0.contains("customer.id=cust-2") && $0.contains("tenant.id=\(tenant)")
            })
        for role in roles {
            let log = try String(contentsOfFile: "\(data)/\(role).log", encoding: .utf8)
            #expect(!log.contains("hook-secret-0123456789abcdef"), "\(role) logged the webhook secret")
        }
        await integrator.stop()
        await publisher.close()
    }
}
