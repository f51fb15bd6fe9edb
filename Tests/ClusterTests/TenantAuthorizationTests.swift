import AMQPClient
import CovenantMessages
import Foundation
import Synchronization
import TestSupport
import Testing
import WorkerRuntime

/// The trust boundary with real broker users: an upstream user granted one tenant, an integrator
/// user with the spec's topic permissions, and the operator (the test broker's `guest`).
extension ProvisioningProcessTests {
    /// `rabbitmqctl ARGS` against the test broker (scripts/rabbitmq ctl).
    func rabbitmqctl(_ arguments: [String]) async throws {
        let scripts = try #require(
            ProcessInfo.processInfo.environment["COVENANT_SCRIPTS"], "COVENANT_SCRIPTS is not set")
        let broker = try #require(ProcessInfo.processInfo.environment["RABBITMQ_DIR"], "RABBITMQ_DIR is not set")
        let output = NSTemporaryDirectory() + "covenant-ctl-\(UUID().uuidString)"
        let pid = try ChildProcess.spawn(
            "\(scripts)/rabbitmq", arguments: ["ctl", broker] + arguments, environment: [:], output: output)
        let status = await ChildProcess.waitForExit(pid)
        let text = (try? String(contentsOfFile: output, encoding: .utf8)) ?? ""
        try #require(status == 0, "rabbitmqctl \(arguments.joined(separator: " ")): \(text)")
    }

    /// The configuration of `user` at the test broker.
    func configuration(_ url: String, user: String, password: String) throws -> AMQPConfiguration {
        var configuration = try AMQPConfiguration(url: url, connectionName: "authorization-test")
        configuration.user = user
        configuration.password = password
        return configuration
    }

    @Test(
        "Entitled publishers: a granted user acts for its tenant only, never sends an operator's command, and a command without user_id is forbidden; its id stays unspent; an integrator binds only its tenant's events"
    )
    func tenantAuthorization() async throws {
        let url = try #require(ProcessInfo.processInfo.environment["AMQP_URL"], "AMQP_URL is not set")
        let operatorConfiguration = try AMQPConfiguration(url: url, connectionName: "authorization-test")
        let suffix = UUID().uuidString.prefix(8).lowercased()
        let (mine, theirs) = ("t-mine-\(suffix)", "t-theirs-\(suffix)")
        let (upstream, integratorUser, password) = ("upstream-\(suffix)", "integrator-\(suffix)", "pw-\(suffix)")
        // The spec's roles: an upstream user writes covenant.commands; an integrator declares its
        // own queues and binds only its tenant's keys on covenant.events.
        try await rabbitmqctl(["add_user", upstream, password])
        try await rabbitmqctl(["set_permissions", "-p", "/", upstream, "^$", "^covenant\\.commands$", "^$"])
        try await rabbitmqctl(["add_user", integratorUser, password])

        let operatorView = Integrator(operatorConfiguration, tenants: [mine, theirs, CloudEvent.clusterTenant])
        let internalView = AMQPConsumer(
            configuration: operatorConfiguration, queue: "",
            topology: AMQPTopology(
                exchanges: Topology.exchanges,
                queues: [
                    .init(
                        name: "", kind: .classic,
                        bindings: [(Topology.internalExchange, "\(CloudEvent.clusterTenant).\(AccessChanged.type)")],
                        exclusive: true)
                ]))
        try await Task.sleep(for: .milliseconds(300))
        let workers = ChildGroup()
        workers.add(try provisioning(url))
        let deadline = ContinuousClock.now + .seconds(60)
        try await waitForWorkers(["covenant.provisioning"], operatorConfiguration, until: deadline)
        let operatorPublisher = AMQPPublisher(configuration: operatorConfiguration)
        let license = #""platform_license":{"kind":"virtual","status":"active"},"service_contracts_enabled":true"#
        func plan(_ id: String, _ tenant: String) -> OutgoingMessage {
            command(
                "plan.upsert",
                #"{"plan_id":"p-\#(id)","name":"P","currency":"INR","monthly_fee":"1.00","service_type":"vm"}"#,
                id: id, tenant: tenant)
        }
        func grant(_ id: String, _ tenants: [String], type: String = AccessChange.grantType) -> OutgoingMessage {
            command(
                type, #"{"user":"\#(upstream)","tenants":[\#(tenants.map { "\"\($0)\"" }.joined(separator: ","))]}"#,
                id: id, tenant: CloudEvent.clusterTenant)
        }
        _ = try await operatorPublisher.publish([
            command("tenant.upsert", #"{"name":"Mine",\#(license)}"#, id: "\(suffix)-t1", tenant: mine),
            command("tenant.upsert", #"{"name":"Theirs",\#(license)}"#, id: "\(suffix)-t2", tenant: theirs),
            grant("\(suffix)-g1", [mine]),
        ])
        try await operatorView.waitFor("tenant.updated", count: 2, until: deadline)
        let announced = try #require(await internalView.next(within: .seconds(30)), "no access.changed")
        let change = try CloudEvent.decode(announced.message.body).get()
        #expect(change.type == AccessChanged.type && change.data["tenants"] == .array([.string(mine)]))
        try await Task.sleep(for: .seconds(1))  // provisioning keeps its copy of the grant

        // The upstream user: its tenant's plan; another tenant's (with Covenant's own header
        // forged); an operator's command for its own tenant.
        let upstreamPublisher = AMQPPublisher(
            configuration: try configuration(url, user: upstream, password: password))
        var forgedIdentity = plan("\(suffix)-p2", theirs)
        forgedIdentity.message.headers = ["x-covenant-user": .string("guest")]
        _ = try await upstreamPublisher.publish([
            plan("\(suffix)-p1", mine), forgedIdentity,
            command(TenantConfigure.type, #"{"payment_terms_days":14}"#, id: "\(suffix)-c1", tenant: mine),
            command("tenant.upsert", #"{"name":"Mine again",\#(license)}"#, id: "\(suffix)-t3", tenant: mine),
            // What is wrong with a command the publisher may not send is told to the operator only:
            // a bad one, or one of a type no worker takes, for another tenant.
            command("plan.upsert", "{}", id: "\(suffix)-p4", tenant: theirs),
            command("service.suspend", "{}", id: "\(suffix)-p5", tenant: theirs),
        ])
        // A command without user_id, from the operator's own connection.
        var unstamped = operatorConfiguration
        unstamped.stampsUserId = false
        let anonymous = AMQPPublisher(configuration: unstamped)
        _ = try await anonymous.publish([plan("\(suffix)-p3", mine)])
        try await operatorView.waitForRejections(
            of: ["\(suffix)-p2", "\(suffix)-t3", "\(suffix)-p3", "\(suffix)-p4", "\(suffix)-p5"], until: deadline)
        try await operatorView.waitFor("plan.updated", count: 1, until: deadline)
        // Its own settings it changes itself.
        try await operatorView.waitFor("tenant.updated", count: 3, until: deadline)
        #expect(operatorView.events.of("tenant.updated").map(\.tenantId).sorted() == [mine, mine, theirs].sorted())
        let rejected = operatorView.events.of("command.rejected").compactMap { event -> String? in
            guard case .string(let id) = event.data["command_id"], id.hasPrefix(suffix),
                case .string(let code) = event.data["code"]
            else { return nil }
            return "\(id) \(code) \(event.tenantId)"
        }
        #expect(
            Set(rejected) == [
                "\(suffix)-p2 forbidden covenant", "\(suffix)-t3 forbidden covenant", "\(suffix)-p3 forbidden covenant",
                "\(suffix)-p4 forbidden covenant", "\(suffix)-p5 forbidden covenant",
            ])
        #expect(operatorView.events.of("plan.updated").map(\.tenantId) == [mine])

        // Granted the other tenant, the same command id is taken: a forbidden command spent nothing.
        _ = try await operatorPublisher.publish([grant("\(suffix)-g2", [theirs])])
        _ = try #require(await internalView.next(within: .seconds(30)), "no access.changed")
        try await Task.sleep(for: .seconds(1))
        _ = try await upstreamPublisher.publish([plan("\(suffix)-p2", theirs)])
        try await operatorView.waitFor("plan.updated", count: 2, until: deadline)
        #expect(operatorView.events.of("plan.updated").map(\.tenantId) == [mine, theirs])

        // The integrator, given its role by `covenant access grant`: its tenant's keys bind;
        // another tenant's, or every key, the broker refuses.
        let management = try #require(
            ProcessInfo.processInfo.environment["MANAGEMENT_URL"], "MANAGEMENT_URL is not set")
        let cli = ["COVENANT_AMQP_URL": url, "COVENANT_MANAGEMENT_URL": management]
        let (granted, grantOutput) = try await runTool(
            "covenant", ["access", "grant", integratorUser, "--tenant", mine, "--role", "integrator"], environment: cli)
        #expect(granted == 0, "\(grantOutput)")
        let integratorConfiguration = try configuration(url, user: integratorUser, password: password)
        func binds(_ key: String) async -> Bool {
            let refused = Mutex<String?>(nil)
            let connected = Mutex(false)
            let queue = "\(integratorUser).\(UUID().uuidString.prefix(6))"
            let consumer = AMQPConsumer(
                configuration: integratorConfiguration, queue: queue,
                topology: AMQPTopology(
                    exchanges: [],
                    queues: [
                        .init(name: queue, kind: .classic, bindings: [(Topology.eventsExchange, key)], exclusive: true)
                    ]
                ),
                onConnectionEvent: { event in
                    switch event {
                    case .connected: connected.withLock { $0 = true }
                    case .disconnected(let error): refused.withLock { $0 = $0 ?? "\(error)" }
                    }
                })
            let until = ContinuousClock.now + .seconds(10)
            while ContinuousClock.now < until, !connected.withLock({ $0 }), refused.withLock({ $0 }) == nil {
                try? await Task.sleep(for: .milliseconds(50))
            }
            await consumer.stop()
            return connected.withLock { $0 } && refused.withLock { $0 } == nil
        }
        #expect(await binds("\(mine).invoice.ready"))
        #expect(await binds("\(mine).#"))
        #expect(await !binds("\(theirs).invoice.ready"))
        #expect(await !binds("#"))
        #expect(await !binds("*.invoice.ready"))

        // Revoked: its connections close (bindings made before stop with them), and it binds nothing.
        let lost = Mutex(false)
        let listening = AMQPConsumer(
            configuration: integratorConfiguration, queue: "\(integratorUser).kept",
            topology: AMQPTopology(
                exchanges: [],
                queues: [
                    .init(
                        name: "\(integratorUser).kept", kind: .classic,
                        bindings: [(Topology.eventsExchange, "\(mine).#")], exclusive: true)
                ]),
            onConnectionEvent: { event in if case .disconnected = event { lost.withLock { $0 = true } } })
        try await Task.sleep(for: .seconds(1))
        let (revoked, revokeOutput) = try await runTool(
            "covenant", ["access", "revoke", integratorUser, "--tenant", mine, "--role", "integrator"], environment: cli
        )
        #expect(revoked == 0 && revokeOutput.contains("no tenant; 1 connection(s) closed"), "\(revokeOutput)")
        let until = ContinuousClock.now + .seconds(10)
        while ContinuousClock.now < until, !lost.withLock({ $0 }) { try await Task.sleep(for: .milliseconds(50)) }
        #expect(lost.withLock { $0 })
        await listening.stop()
        #expect(await !binds("\(mine).invoice.ready"))

        await internalView.stop()
        await operatorPublisher.close()
        await upstreamPublisher.close()
        await anonymous.close()
        await operatorView.stop()
        #expect(await workers.stop() == [0])
        try await rabbitmqctl(["delete_user", upstream])
        try await rabbitmqctl(["delete_user", integratorUser])
    }
}
