import AMQPClient
import CovenantMessages
import Foundation
import Glibc
import TestSupport
import Testing
import WorkerRuntime

/// Runs an executable of the package with arguments and environment; returns status and output.
func runTool(_ executable: String, _ arguments: [String], environment: [String: String]) async throws -> (Int32, String)
{
    let bin = try #require(ProcessInfo.processInfo.environment["COVENANT_BIN"], "COVENANT_BIN is not set")
    let output = NSTemporaryDirectory() + "covenant-out-\(UUID().uuidString)"
    let pid = try ChildProcess.spawn(
        "\(bin)/\(executable)", arguments: arguments, environment: environment, output: output)
    let status = await ChildProcess.waitForExit(pid)
    let text = (try? String(contentsOfFile: output, encoding: .utf8)) ?? ""
    return (status, text)
}

/// The ops CLI against a running worker (in the worker-process suite: they share the queue).
extension ProvisioningProcessTests {
    @Test("covenant publish, queues, dead list, and a replay that succeeds once the missing service exists")
    func deadLetterReplay() async throws {
        let url = try #require(ProcessInfo.processInfo.environment["AMQP_URL"], "AMQP_URL is not set")
        let environment = [
            "COVENANT_AMQP_URL": url, "COVENANT_DATA_DIR": NSTemporaryDirectory() + "covenant-\(UUID().uuidString)",
        ]
        let tenant = "t-\(UUID().uuidString.prefix(8))"
        let workers = ChildGroup()
        workers.add(try launch("covenant-provisioning", environment))
        let configuration = try AMQPConfiguration(url: url, connectionName: "cli-test")
        let deadline = ContinuousClock.now + .seconds(30)
        try await waitForWorkers(["covenant.provisioning"], configuration, until: deadline)
        func envelope(_ id: String, _ type: String, _ data: String) -> String {
            #"{"specversion":"1.0","id":"\#(tenant)-\#(id)","source":"ops","type":"\#(type)","time":"2025-01-15T09:30:00Z","tenantid":"\#(tenant)","data":\#(data)}"#
        }
        func publish(_ envelopes: [String]) async throws -> String {
            let file = NSTemporaryDirectory() + "covenant-commands-\(UUID().uuidString).json"
            try "[\(envelopes.joined(separator: ","))]".write(toFile: file, atomically: true, encoding: .utf8)
            let (status, output) = try await runTool("covenant", ["publish", file], environment: environment)
            #expect(status == 0)
            return output
        }
        // The cancellation arrives before the service exists: rejected and dead-lettered.
        let published = try await publish([
            envelope(
                "1", "tenant.upsert",
                #"{"name":"Acme","platform_license":{"kind":"virtual","status":"active"},"service_contracts_enabled":true}"#
            ),
            envelope("2", "service.cancel", #"{"service_id":"sim-1","effective_date":"2025-03-01"}"#),
        ])
        #expect(published.contains("\(tenant)-2 service.cancel: confirmed"))
        var listed = ""
        // Its own line: the dead-letter queue may hold other tests' letters already.
        while ContinuousClock.now < deadline, !listed.contains("\(tenant)-2 service.cancel unknown_service") {
            listed = try await runTool("covenant", ["dead", "list", "covenant.provisioning"], environment: environment)
                .1
        }
        #expect(listed.contains("\(tenant)-2 service.cancel unknown_service"))
        let (_, queues) = try await runTool("covenant", ["queues"], environment: environment)
        #expect(queues.contains("covenant.provisioning\tmessages 0\tconsumers 1"), "\(queues)")

        // The operator creates the missing plan and service, then replays the dead letter.
        _ = try await publish([
            envelope(
                "3", "plan.upsert",
                #"{"plan_id":"sim","name":"SIM","currency":"INR","monthly_fee":"0","service_type":"sim"}"#),
            envelope(
                "4", "service.provision",
                #"{"customer_id":"c1","service_id":"sim-1","plan_id":"sim","start_date":"2025-01-01","billing_model":"payg","payment_mode":"postpaid"}"#
            ),
        ])
        try await Task.sleep(for: .milliseconds(500))
        let (status, replayed) = try await runTool(
            "covenant", ["dead", "replay", "covenant.provisioning"], environment: environment)
        // Other tests' dead letters may be replayed too (and rejected again); this one is accepted.
        #expect(status == 0 && replayed.contains("replayed"))
        try await Task.sleep(for: .milliseconds(500))
        let remaining = try await runTool(
            "covenant", ["dead", "list", "covenant.provisioning"], environment: environment
        ).1
        #expect(!remaining.contains("\(tenant)-2"), "\(remaining)")

        #expect(await workers.stop() == [0])
    }
}

@Suite("The ops CLI never hangs and never hides a lost message")
struct OpsCLIFailureTests {
    @Test(
        "publish: a command type no worker binds goes to the alternate exchange (confirmed, then unknown_type), not dropped; without a broker it ends within --timeout"
    )
    func unroutableAndUnreachable() async throws {
        let url = try #require(ProcessInfo.processInfo.environment["AMQP_URL"], "AMQP_URL is not set")
        let file = NSTemporaryDirectory() + "covenant-raw-\(UUID().uuidString).jsonl"
        let key = "nobody.binds.\(UUID().uuidString.prefix(8))"
        try #"{"routing_key":"\#(key)","message_id":"m-1","body":"{}"}"#.write(
            toFile: file, atomically: true, encoding: .utf8)
        // The queue provisioning binds to the alternate exchange (scripts/rabbitmq sets the policy
        // that names it): what no worker takes lands there, as in a cluster.
        let unrouted = AMQPConsumer(
            configuration: try AMQPConfiguration(url: url), queue: "",
            topology: AMQPTopology(
                exchanges: Topology.exchanges,
                queues: [.init(name: "", kind: .classic, bindings: [(Topology.unroutedExchange, "")], exclusive: true)])
        )
        try await Task.sleep(for: .milliseconds(500))  // bound before the message goes out
        let (status, output) = try await runTool(
            "covenant", ["publish", "--raw", file], environment: ["COVENANT_AMQP_URL": url])
        #expect(status == 0, "\(output)")
        #expect(output.contains("m-1 \(key): confirmed"), "\(output)")
        let caught = await unrouted.next(within: .seconds(10))
        #expect(caught?.routingKey == key && caught?.exchange == Topology.commandsExchange)
        await unrouted.stop()

        let started = ContinuousClock.now
        let (down, text) = try await runTool(
            "covenant", ["publish", "--raw", file, "--timeout", "3"],
            environment: ["COVENANT_AMQP_URL": "amqp://guest:guest@127.0.0.1:1/"])
        #expect(down != 0)
        #expect(text.contains("within 3 s at amqp://guest:***@127.0.0.1:1/"), "\(text)")
        #expect(ContinuousClock.now - started < .seconds(20))
    }
}
