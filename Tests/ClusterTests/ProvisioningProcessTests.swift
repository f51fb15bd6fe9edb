import AMQPClient
import CovenantMessages
import Foundation
import Glibc
import Synchronization
import TestSupport
import Testing
import WorkerRuntime

/// Worker executables run as separate processes against the test broker.
@Suite("Worker processes", .serialized)
struct ProvisioningProcessTests {
    /// Starts a worker executable with `environment` added to this process's.
    func launch(_ executable: String, _ environment: [String: String], output: String? = nil) throws -> pid_t {
        let bin = try #require(ProcessInfo.processInfo.environment["COVENANT_BIN"], "COVENANT_BIN is not set")
        let logs = NSTemporaryDirectory() + "covenant-test-logs"
        try FileManager.default.createDirectory(atPath: logs, withIntermediateDirectories: true)
        return try ChildProcess.spawn(
            "\(bin)/\(executable)", environment: environment, output: output ?? "\(logs)/\(executable).log")
    }

    /// A provisioning worker on a SQLite store of its own.
    func provisioning(_ url: String) throws -> pid_t {
        try launch(
            "covenant-provisioning",
            ["COVENANT_AMQP_URL": url, "COVENANT_DATA_DIR": NSTemporaryDirectory() + "covenant-\(UUID().uuidString)"])
    }

    func command(_ type: String, _ data: String, id: String, tenant: String) -> OutgoingMessage {
        let event = CloudEvent(
            id: id, source: "tests", type: type, time: "2025-01-15T09:30:00Z", tenantId: tenant,
            data: JSONValue.parse(Array(data.utf8))!)
        return OutgoingMessage(
            AMQPMessage(body: event.encoded(), messageId: id, contentType: CloudEvent.contentType, type: type),
            exchange: Topology.commandsExchange, routingKey: type)
    }

    @Test("covenant-provisioning handles commands from the broker, publishes the events, and stops cleanly on SIGTERM")
    func provisioningProcess() async throws {
        let url = try #require(ProcessInfo.processInfo.environment["AMQP_URL"], "AMQP_URL is not set")
        let configuration = try AMQPConfiguration(url: url, connectionName: "cluster-test")
        let tenant = "t-\(UUID().uuidString.prefix(8))"
        // An integrator's queue, bound before anything is published.
        let integrator = Integrator(configuration, tenant: tenant)
        try await Task.sleep(for: .milliseconds(300))

        let workers = ChildGroup()
        workers.add(try provisioning(url))
        let publisher = AMQPPublisher(
            configuration: configuration, topology: AMQPTopology(exchanges: Topology.exchanges))
        // The worker declares its queue when it connects; commands published before that would
        // be unroutable, so wait until the queue exists.
        let deadline = ContinuousClock.now + .seconds(30)
        try await waitForWorkers(["covenant.provisioning"], configuration, until: deadline)
        let confirmations = try await publisher.publish([
            command(
                "tenant.upsert",
                #"{"name":"Acme","platform_license":{"kind":"virtual","status":"active"},"service_contracts_enabled":true}"#,
                id: "\(tenant)-1", tenant: tenant),
            command(
                "plan.upsert",
                #"{"plan_id":"vm","name":"VM","currency":"INR","monthly_fee":"1000.00","service_type":"vm"}"#,
                id: "\(tenant)-2", tenant: tenant),
            command(
                "service.provision",
                #"{"customer_id":"c1","service_id":"vm-1","plan_id":"vm","start_date":"2025-01-15","billing_model":"fixed_term","payment_mode":"postpaid","contract":{"term_months":12,"discount_percent":"10"}}"#,
                id: "\(tenant)-3", tenant: tenant),
            command(
                "service.cancel", #"{"service_id":"vm-404","effective_date":"2025-09-01"}"#, id: "\(tenant)-4",
                tenant: tenant),
        ])
        #expect(confirmations.allSatisfy { $0 == .confirmed })
        let expected = [
            "tenant.updated", "plan.updated", "service.activated", "contract.activated", "command.rejected",
        ]
        while ContinuousClock.now < deadline, integrator.events.all.count < expected.count {
            try await Task.sleep(for: .milliseconds(50))
        }
        let events = integrator.events.all
        #expect(Set(events.map(\.type)) == Set(expected))
        #expect(events.first { $0.type == "command.rejected" }?.data["code"] == .string("unknown_service"))
        #expect(events.first { $0.type == "contract.activated" }?.data["monthly_fee"] == .string("1000.00"))

        let status = await workers.stop().first ?? -1
        #expect(status == 0, "the worker exited with \(status) after SIGTERM")
        await integrator.stop()
        await publisher.close()
    }

    @Test("Two worker processes in a pipeline: provisioning's events teach rating; usage is rated")
    func provisioningAndRating() async throws {
        let url = try #require(ProcessInfo.processInfo.environment["AMQP_URL"], "AMQP_URL is not set")
        let configuration = try AMQPConfiguration(url: url, connectionName: "cluster-test")
        let tenant = "t-\(UUID().uuidString.prefix(8))"
        let integrator = Integrator(configuration, tenant: tenant)
        let data = NSTemporaryDirectory() + "covenant-\(UUID().uuidString)"
        let workers = ChildGroup()
        for executable in ["covenant-provisioning", "covenant-rating"] {
            workers.add(try launch(executable, ["COVENANT_AMQP_URL": url, "COVENANT_DATA_DIR": data]))
        }
        let deadline = ContinuousClock.now + .seconds(30)
        try await waitForWorkers(["covenant.provisioning", "covenant.rating"], configuration, until: deadline)
        let publisher = AMQPPublisher(
            configuration: configuration, topology: AMQPTopology(exchanges: Topology.exchanges))
        func waitFor(_ type: String, count: Int = 1) async throws {
            try await integrator.waitFor(type, count: count, until: deadline)
        }
        _ = try await publisher.publish([
            command(
                "tenant.upsert",
                #"{"name":"Acme","platform_license":{"kind":"virtual","status":"active"},"service_contracts_enabled":true,"time_zone":"Asia/Kolkata"}"#,
                id: "\(tenant)-1", tenant: tenant),
            command(
                "plan.upsert",
                #"{"plan_id":"sim","name":"SIM","currency":"INR","monthly_fee":"0","service_type":"sim","usage_prices":[{"metric":"gb","model":"per_unit","unit_price":"0.10"}]}"#,
                id: "\(tenant)-2", tenant: tenant),
            command(
                "service.provision",
                #"{"customer_id":"c1","service_id":"sim-1","plan_id":"sim","start_date":"2025-01-01","billing_model":"payg","payment_mode":"postpaid"}"#,
                id: "\(tenant)-3", tenant: tenant),
        ])
        // Rating learns the service from service.activated before usage arrives.
        try await waitFor("service.activated")
        try await Task.sleep(for: .milliseconds(300))
        _ = try await publisher.publish([
            command(
                "usage.record",
                #"{"customer_id":"c1","service_id":"sim-1","metric":"gb","quantity":"12.5","timestamp":"2025-01-31T20:00:00Z"}"#,
                id: "\(tenant)-4", tenant: tenant),
            command(
                "usage.record",
                #"{"customer_id":"c2","service_id":"sim-1","metric":"gb","quantity":"1","timestamp":"2025-01-31T20:00:00Z"}"#,
                id: "\(tenant)-5", tenant: tenant),
        ])
        try await waitFor("usage.rated")
        try await waitFor("command.rejected")
        let events = integrator.events.all
        let rated = try #require(events.first { $0.type == "usage.rated" })
        guard case .array(let records) = rated.data["records"] else {
            Issue.record("usage.rated has no records")
            return
        }
        // 20:00Z on 31 January is 1 February in Kolkata.
        #expect(records.first?["month"] == .string("2025-02") && records.first?["quantity"] == .string("12.5"))
        #expect(events.first { $0.type == "command.rejected" }?.data["code"] == .string("unknown_service"))
        for status in await workers.stop() { #expect(status == 0) }
        await integrator.stop()
        await publisher.close()
    }

    @Test("A configuration file under the environment: a bad key or value is named, the environment overrides")
    func configurationFile() throws {
        let path = NSTemporaryDirectory() + "covenant-config-\(UUID().uuidString).json"
        func write(_ text: String) throws { try text.write(toFile: path, atomically: true, encoding: .utf8) }
        try write(#"{"amqp_url":"amqp://u:hunter2@rabbit:5672/","http_port":9401,"data_dir":"/srv/covenant"}"#)
        let settings = try WorkerSettings.from(environment: ["COVENANT_CONFIG": path], connectionName: "x")
        #expect(
            settings.amqp.nodes.map(\.host) == ["rabbit"] && settings.httpPort == 9401
                && settings.dataDirectory == "/srv/covenant")
        // A list in the file: a cluster's nodes.
        try write(#"{"amqp_url":["amqp://u:hunter2@rabbit-1:5672/","amqp://u:hunter2@rabbit-2:5673/"]}"#)
        let cluster = try WorkerSettings.from(environment: ["COVENANT_CONFIG": path], connectionName: "x")
        #expect(cluster.amqp.nodes.map(\.description) == ["rabbit-1:5672", "rabbit-2:5673"])
        try write(#"{"amqp_url":["amqp://u:hunter2@rabbit-1:5672/",5]}"#)
        #expect(throws: WorkerSettings.Invalid.self) {
            try WorkerSettings.from(environment: ["COVENANT_CONFIG": path], connectionName: "x")
        }
        try write(#"{"amqp_url":"amqp://u:hunter2@rabbit:5672/","http_port":9401,"data_dir":"/srv/covenant"}"#)
        let overridden = try WorkerSettings.from(
            environment: ["COVENANT_CONFIG": path, "COVENANT_HTTP_PORT": "9500"], connectionName: "x")
        #expect(overridden.httpPort == 9500)
        try write(#"{"amqp_url":"amqp://u:hunter2@rabbit/","http_port":"ninety"}"#)
        #expect(throws: WorkerSettings.Invalid.self) {
            try WorkerSettings.from(environment: ["COVENANT_CONFIG": path], connectionName: "x")
        }
        do {
            _ = try WorkerSettings.from(environment: ["COVENANT_CONFIG": path], connectionName: "x")
        } catch {
            #expect(error.variable == "http_port in \(path)" && !error.description.contains("hunter2"))
        }
        // The environment's good value wins over the file's bad one.
        #expect(
            try WorkerSettings.from(
                environment: ["COVENANT_CONFIG": path, "COVENANT_HTTP_PORT": "9402"], connectionName: "x"
            ).httpPort == 9402)
        try write(#"{"amqp_url":"amqp://rabbit/","http_prot":9401}"#)
        do {
            _ = try WorkerSettings.from(environment: ["COVENANT_CONFIG": path], connectionName: "x")
            Issue.record("accepted an unknown key")
        } catch {
            #expect(error.variable == "http_prot in \(path)")
        }
        // The example configuration is valid.
        let example =
            try #require(ProcessInfo.processInfo.environment["COVENANT_SCRIPTS"]) + "/../config/covenant.example.json"
        #expect(
            try WorkerSettings.from(environment: ["COVENANT_CONFIG": example], connectionName: "x").httpPort == 9401)
    }

    @Test("A missing or bad setting names the variable")
    func settings() throws {
        #expect(throws: WorkerSettings.Invalid.self) { try WorkerSettings.from([:], connectionName: "x") }
        do {
            _ = try WorkerSettings.from(
                ["COVENANT_AMQP_URL": "amqp://u:hunter2@h/", "COVENANT_DATABASE_URL": "mysql://x"], connectionName: "x")
            Issue.record("accepted a MySQL URL")
        } catch {
            #expect(error.variable == "COVENANT_DATABASE_URL")
            #expect(!error.description.contains("hunter2"))
        }
        let url = ["COVENANT_AMQP_URL": "amqp://h/"]
        #expect(try WorkerSettings.from(url, connectionName: "x").logLevel == .info)
        #expect(
            try WorkerSettings.from(url.merging(["COVENANT_LOG_LEVEL": "warning"]) { $1 }, connectionName: "x").logLevel
                == .warning)
        do {
            _ = try WorkerSettings.from(url.merging(["COVENANT_LOG_LEVEL": "loud"]) { $1 }, connectionName: "x")
            Issue.record("accepted log level loud")
        } catch {
            #expect(error.variable == "COVENANT_LOG_LEVEL")
        }
    }
}
