import AMQPClient
import CovenantMessages
import Foundation
import Glibc
import Testing
import WorkerRuntime

extension ProvisioningProcessTests {
    @Test("Three worker processes bill the worked example: invoice.ready reaches an integrator's queue")
    func billingPipeline() async throws {
        let url = try #require(ProcessInfo.processInfo.environment["AMQP_URL"], "AMQP_URL is not set")
        let configuration = try AMQPConfiguration(url: url, connectionName: "pipeline-test")
        let tenant = "t-\(UUID().uuidString.prefix(8))"
        let integrator = Integrator(configuration, tenant: tenant)
        let data = NSTemporaryDirectory() + "covenant-\(UUID().uuidString)"
        let roles = ["provisioning", "rating", "invoicing"]
        let workers = try roles.map {
            try launch("covenant-\($0)", ["COVENANT_AMQP_URL": url, "COVENANT_DATA_DIR": data])
        }
        let deadline = ContinuousClock.now + .seconds(45)
        try await waitForWorkers(roles.map { "covenant.\($0)" }, configuration, until: deadline)
        let publisher = AMQPPublisher(
            configuration: configuration, topology: AMQPTopology(exchanges: Topology.exchanges))
        func waitFor(_ type: String, count: Int = 1) async throws {
            try await integrator.waitFor(type, count: count, until: deadline)
        }
        _ = try await publisher.publish([
            command(
                "tenant.upsert",
                #"{"name":"Acme","platform_license":{"kind":"virtual","status":"active"},"service_contracts_enabled":true}"#,
                id: "\(tenant)-1", tenant: tenant),
            command(
                "plan.upsert",
                #"{"plan_id":"vm","name":"VM Standard","currency":"INR","monthly_fee":"1000.00","service_type":"vm","usage_prices":[{"metric":"gb","model":"per_unit","unit_price":"0.10"}]}"#,
                id: "\(tenant)-2", tenant: tenant),
            command(
                "service.provision",
                #"{"customer_id":"cust-1","service_id":"vm-1","plan_id":"vm","start_date":"2025-01-15","billing_model":"fixed_term","payment_mode":"postpaid","contract":{"term_months":12,"monthly_fee":"1000.00","discount_percent":"10"}}"#,
                id: "\(tenant)-3", tenant: tenant),
            command(
                "service.provision",
                #"{"customer_id":"cust-1","service_id":"sim-1","plan_id":"vm","start_date":"2025-01-01","billing_model":"payg","payment_mode":"postpaid"}"#,
                id: "\(tenant)-4", tenant: tenant),
        ])
        try await waitFor("service.activated", count: 2)
        try await waitFor("contract.activated")
        try await Task.sleep(for: .milliseconds(500))  // rating and invoicing take in the events
        _ = try await publisher.publish([
            command(
                "usage.record",
                #"{"customer_id":"cust-1","service_id":"sim-1","metric":"gb","quantity":"123.5","timestamp":"2025-01-20T10:00:00Z"}"#,
                id: "\(tenant)-5", tenant: tenant)
        ])
        try await waitFor("usage.rated")
        try await Task.sleep(for: .milliseconds(500))  // invoicing takes in the rated usage
        _ = try await publisher.publish([
            command("billing.run", #"{"as_of":"2025-02-01"}"#, id: "\(tenant)-6", tenant: tenant)
        ])
        try await waitFor("billing.run.completed")
        let invoice = try #require(integrator.events.all.first { $0.type == "invoice.ready" })
        // 548.39 − 54.84 = 493.55 for 15–31 January, plus 123.5 GB × 0.10 = 12.35.
        #expect(invoice.data["subtotal"] == .string("560.74"))
        #expect(invoice.data["discount_total"] == .string("54.84"))
        #expect(invoice.data["total"] == .string("505.90"))
        for pid in workers { kill(pid, SIGTERM) }
        for pid in workers { #expect(await waitForExit(pid) == 0) }
        await integrator.stop()
        await publisher.close()
    }
}
