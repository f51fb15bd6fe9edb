import CovenantMessages
import Foundation
import Glibc
import NotificationWorker
import Synchronization
import TestSupport
import Testing
import WorkerRuntime
import WorkerStores

/// A receiver in memory: answers from a script, keeps every request.
final class ScriptedSender: WebhookSender {
    struct Request {
        let url: String
        let headers: [String: String]
        let body: [UInt8]
    }

    private let state: Mutex<(answers: [WebhookResponse], requests: [Request])>

    init(answers: [WebhookResponse]) {
        state = Mutex((answers, []))
    }

    var requests: [Request] { state.withLock { $0.requests } }

    func post(to url: String, headers: [String: String], body: [UInt8]) async -> WebhookResponse {
        state.withLock { state in
            state.requests.append(Request(url: url, headers: headers, body: body))
            return state.answers.count > 1 ? state.answers.removeFirst() : state.answers.first ?? .status(200)
        }
    }
}

/// A receiver per URL: `dead.example` hangs until `waitFor` others were delivered (at most ten
/// seconds), then times out; any other answers at once. Whether the others got through while it
/// hung is an order, not a time: nothing here depends on how fast the machine is.
final class SlowSender: WebhookSender {
    let delivered = Mutex<[String]>([])
    let calls = Mutex(0)
    let waitFor: Int
    /// Whether the dead receiver, while it hung, saw `waitFor` others delivered.
    let othersWhileHanging = Mutex<Bool?>(nil)

    init(waitFor: Int) { self.waitFor = waitFor }

    func post(to url: String, headers: [String: String], body: [UInt8]) async -> WebhookResponse {
        calls.withLock { $0 += 1 }
        if url.contains("dead.example") {
            let deadline = ContinuousClock.now + .seconds(10)
            while ContinuousClock.now < deadline, delivered.withLock({ $0.count }) < waitFor {
                try? await Task.sleep(for: .milliseconds(10))
            }
            let saw = delivered.withLock { $0.count } >= waitFor
            othersWhileHanging.withLock { $0 = saw }
            return .failed(.timeout)
        }
        delivered.withLock { $0.append(url) }
        return .status(200)
    }
}

@Suite("Notification: signed webhooks, retries, the delivery log")
struct NotificationHandlerTests {
    let store: SQLiteWorkerStore

    init() async throws {
        store = try SQLiteWorkerStore(
            directory: NSTemporaryDirectory() + "covenant-notification-\(UUID().uuidString)", role: .notification)
        try await store.migrate()
    }

    func handler(_ sender: ScriptedSender, attempts: Int = 8) -> NotificationHandler {
        NotificationHandler(
            store: store, events: EventFactory(source: "covenant/notification"), sender: sender,
            now: { Date(timeIntervalSince1970: 1_738_368_000) }, maximumAttempts: attempts)
    }

    func event(_ type: String, _ id: String, time: String = "2025-02-01T00:00:00Z", _ data: String) -> CloudEvent {
        CloudEvent(
            id: id, source: "tests", type: type, time: time, tenantId: "acme", data: JSONValue.parse(Array(data.utf8))!)
    }

    /// A tenant's `tenant.upsert` with a webhook, and provisioning's `tenant.updated` for it.
    func configure(
        _ handler: NotificationHandler, url: String, id: String, revision: Int = 1, tenant: String = "acme",
        secrets: String = #""webhook_secret":"s3cret-0123456789abcdefghij""#
    ) async throws {
        for message in [
            WebhookSettingsTests.upsert(id, url: url, tenant: tenant, secrets: secrets),
            WebhookSettingsTests.updated(id, revision: revision, tenant: tenant),
        ] {
            guard case .commit(var unit) = try await handler.handle(message) else {
                Issue.record("\(message.type) not taken")
                return
            }
            unit.messageId = message.id
            _ = try await store.commit(unit)
        }
    }

    let invoiceReady = #"{"invoice_id":"INV-cust-1-20250201-INR","total":"505.90"}"#

    @Test(
        "A batch of events: each posted on its own, in order, to its tenant's webhook, the rest of a tenant's waiting once one failed; a tenant without one gets nothing"
    )
    func batch() async throws {
        let sender = ScriptedSender(answers: [.status(204), .status(500), .status(204)])
        let handler = handler(sender)
        try await configure(handler, url: "https://hooks.example/acme", id: "t-1")
        #expect(handler.batchableTypes.contains("invoice.ready") && !handler.batchableTypes.contains("tenant.upsert"))
        let events =
            (1...3).map { event("invoice.ready", "e-\($0)", invoiceReady) } + [
                CloudEvent(
                    id: "e-other", source: "tests", type: "invoice.ready", time: "2025-02-01T00:00:00Z",
                    tenantId: "quiet", data: JSONValue.parse(Array(invoiceReady.utf8))!)
            ]
        let outcomes = try await handler.handle(batch: events)
        #expect(
            sender.requests.map { String(decoding: $0.body, as: UTF8.self) }
                == events.prefix(2).map {
                    String(decoding: $0.encoded(), as: UTF8.self)
                })
        #expect(outcomes.count == 4)
        var shapes: [String] = []
        for outcome in outcomes {
            switch outcome {
            case .commit(let unit):
                shapes.append(unit.outbox.map(\.type).compactMap { $0 }.joined() + "/\(unit.deliveries.count)")
            case .retryLater: shapes.append("retry")
            case .reject, .rejectUnlessItArrives: shapes.append("rejected")
            }
        }
        // Delivered, a 500 to try again, the third waiting untried; the quiet tenant's changes nothing.
        #expect(shapes == ["notification.delivered/1", "retry", "retry", "/0"])
    }

    @Test("A dead receiver never holds up another tenant's deliveries in the same batch")
    func tenantsApart() async throws {
        let sender = SlowSender(waitFor: 2)
        let handler = NotificationHandler(
            store: store, events: EventFactory(source: "covenant/notification"), sender: sender)
        try await configure(handler, url: "https://dead.example/hook", id: "t-1")
        try await configure(handler, url: "https://alive.example/hook", id: "t-2", tenant: "beta")
        func ready(_ id: String, _ tenant: String) -> CloudEvent {
            CloudEvent(
                id: id, source: "tests", type: "invoice.ready", time: "2025-02-01T00:00:00Z", tenantId: tenant,
                data: JSONValue.parse(Array(invoiceReady.utf8))!)
        }
        let outcomes = try await handler.handle(batch: [
            ready("a-1", "acme"), ready("a-2", "acme"), ready("b-1", "beta"), ready("b-2", "beta"),
        ])
        // Beta's two were delivered while acme's receiver hung; acme's second was not tried.
        let delivered = sender.delivered.withLock { $0 }
        #expect(delivered == ["https://alive.example/hook", "https://alive.example/hook"])
        #expect(sender.othersWhileHanging.withLock { $0 } == true)
        #expect(sender.calls.withLock { $0 } == 3)
        guard case .retryLater = outcomes[1] else {
            Issue.record("acme's second event was tried behind a dead receiver")
            return
        }
    }

    @Test("An event is posted once, signed over the timestamp and body, and logged delivered")
    func delivered() async throws {
        let sender = ScriptedSender(answers: [.status(204)])
        let handler = handler(sender)
        try await configure(handler, url: "https://hooks.example/acme", id: "t-1")
        let ready = event("invoice.ready", "e-1", invoiceReady)
        guard case .commit(let unit) = try await handler.handle(ready) else {
            Issue.record("not delivered")
            return
        }
        let request = try #require(sender.requests.first)
        #expect(request.url == "https://hooks.example/acme")
        #expect(request.body == ready.encoded())
        let timestamp = try #require(Int64(request.headers[WebhookSignature.timestampHeader] ?? ""))
        let signature = try #require(request.headers[WebhookSignature.signatureHeader])
        #expect(request.headers[WebhookSignature.idHeader] == "e-1")
        func verifies(_ body: [UInt8], id: String = "e-1", _ timestamp: Int64, _ secret: String) -> Bool {
            WebhookSignature.verify(header: signature, id: id, timestamp: timestamp, body: body, secret: secret)
        }
        #expect(verifies(request.body, timestamp, "s3cret-0123456789abcdefghij"))
        #expect(!verifies(request.body + [32], timestamp, "s3cret-0123456789abcdefghij"))
        #expect(!verifies(request.body, timestamp + 1, "s3cret-0123456789abcdefghij"))
        #expect(!verifies(request.body, id: "e-2", timestamp, "s3cret-0123456789abcdefghij"))
        #expect(!verifies(request.body, timestamp, "other"))
        #expect(unit.deliveries.map(\.status) == ["delivered"] && unit.deliveries.first?.responseCode == 204)
        #expect(unit.outbox.map(\.routingKey) == ["acme.notification.delivered"])
    }

    @Test("A failing receiver is tried again later with growing delays; each attempt is logged")
    func retried() async throws {
        let sender = ScriptedSender(answers: [.status(500), .failed(.refused), .status(200)])
        let handler = handler(sender)
        try await configure(handler, url: "https://hooks.example/acme", id: "t-1")
        let ready = event("invoice.ready", "e-2", invoiceReady)
        var delays: [Duration] = []
        while true {
            switch try await handler.handle(ready) {
            case .retryLater(_, let delay, let recording):
                // The runtime commits what the attempt recorded with the copy that waits.
                delays.append(delay)
                #expect(recording?.deliveries.count == 1)
                if let recording { _ = try await store.commit(recording) }
                continue
            case .commit(var unit):
                unit.messageId = ready.id
                _ = try await store.commit(unit)
            case .reject(let rejection), .rejectUnlessItArrives(let rejection, _, _):
                Issue.record("rejected: \(rejection)")
            }
            break
        }
        #expect(delays == [.seconds(1), .seconds(5)])
        let log = try await store.deliveries(eventId: "e-2")
        #expect(log.map(\.attempt) == [1, 2, 3])
        #expect(log.map(\.status) == ["failed", "failed", "delivered"])
        #expect(log.map(\.responseCode) == [500, nil, 200])
    }

    @Test("After the last attempt the delivery is given up with notification.failed")
    func givenUp() async throws {
        let sender = ScriptedSender(answers: [.status(503)])
        let handler = handler(sender, attempts: 3)
        try await configure(handler, url: "https://hooks.example/acme", id: "t-1")
        let ready = event("invoice.ready", "e-3", invoiceReady)
        var outcome = try await handler.handle(ready)
        while case .retryLater(_, _, let recording) = outcome {
            if let recording { _ = try await store.commit(recording) }
            outcome = try await handler.handle(ready)
        }
        guard case .commit(let unit) = outcome else {
            Issue.record("no final outcome")
            return
        }
        #expect(sender.requests.count == 3)
        #expect(unit.outbox.map(\.routingKey) == ["acme.notification.failed"])
        let data = try #require(JSONValue.parse(unit.outbox[0].body)?["data"])
        #expect(data["attempts"] == .number("3") && data["status"] == .number("503"))
    }

    @Test("Webhook secrets are stored sealed under the operator's key and opened only to sign")
    func sealedAtRest() async throws {
        let sealer = try SecretSealer(base64Key: "q83vEjRWeJCrze8SNFZ4kKvN7xI0VniQq83vEjRWeJA=")
        let sender = ScriptedSender(answers: [.status(200)])
        let handler = NotificationHandler(
            store: store, events: EventFactory(source: "covenant/notification"), sender: sender, sealer: sealer)
        try await configure(handler, url: "https://hooks.example/acme", id: "t-1")
        let stored = try #require(try await store.document(kind: "webhook", key: "acme"))
        let text = String(decoding: stored.body, as: UTF8.self)
        #expect(!text.contains("s3cret-0123456789abcdefghij") && text.contains("aesgcm:"))
        _ = try await handler.handle(event("invoice.ready", "e-7", invoiceReady))
        let request = try #require(sender.requests.first)
        let timestamp = try #require(Int64(request.headers[WebhookSignature.timestampHeader] ?? ""))
        #expect(
            WebhookSignature.verify(
                header: request.headers[WebhookSignature.signatureHeader] ?? "", id: "e-7", timestamp: timestamp,
                body: request.body, secret: "s3cret-0123456789abcdefghij"))
        // Another key cannot open it; a secret kept before sealing began is still read.
        let other = try SecretSealer(base64Key: "AAECAwQFBgcICQoLDA0ODxAREhMUFRYXGBkaGxwdHh8=")
        guard case .array(let kept) = JSONValue.parse(stored.body)?["secrets"], case .string(let sealed) = kept.first
        else {
            Issue.record("no secret stored")
            return
        }
        #expect(throws: SecretSealer.Invalid.self) { try other.open(sealed) }
        #expect(try other.open("plain-secret") == "plain-secret")
    }

    @Test("During a rotation each delivery is signed with both secrets; a receiver with either verifies it")
    func rotation() async throws {
        let sender = ScriptedSender(answers: [.status(200)])
        let handler = handler(sender)
        try await configure(
            handler, url: "https://hooks.example/acme", id: "t-1",
            secrets: #""webhook_secrets":["old-secret-0123456789abcdef","new-secret-0123456789abcdef"]"#)
        _ = try await handler.handle(event("invoice.ready", "e-8", invoiceReady))
        let request = try #require(sender.requests.first)
        let header = request.headers[WebhookSignature.signatureHeader] ?? ""
        let timestamp = try #require(Int64(request.headers[WebhookSignature.timestampHeader] ?? ""))
        #expect(header.split(separator: " ").count == 2)
        for secret in ["old-secret-0123456789abcdef", "new-secret-0123456789abcdef"] {
            #expect(
                WebhookSignature.verify(
                    header: header, id: "e-8", timestamp: timestamp, body: request.body, secret: secret))
        }
        #expect(
            !WebhookSignature.verify(header: header, id: "e-8", timestamp: timestamp, body: request.body, secret: "x"))
    }

    @Test("An address the policy refuses fails at once, with a reason and no error text")
    func refusedAtOnce() async throws {
        let sender = ScriptedSender(answers: [.failed(.addressNotAllowed)])
        let handler = handler(sender)
        try await configure(handler, url: "https://internal.example/x", id: "t-1")
        guard case .commit(let unit) = try await handler.handle(event("invoice.ready", "e-9", invoiceReady)) else {
            Issue.record("not given up at once")
            return
        }
        #expect(sender.requests.count == 1)
        #expect(unit.outbox.map(\.routingKey) == ["acme.notification.failed"])
        let data = try #require(JSONValue.parse(unit.outbox[0].body)?["data"])
        #expect(data["reason"] == .string("address_not_allowed") && data["attempts"] == .number("1"))
        #expect(data["error"] == nil)
    }

    @Test("Through HTTP: the integrator's receiver verifies the signature and refuses a tampered body")
    func receiver() async throws {
        let scripts = try #require(
            ProcessInfo.processInfo.environment["COVENANT_SCRIPTS"], "COVENANT_SCRIPTS is not set")
        let folder = NSTemporaryDirectory() + "covenant-hooks-\(UUID().uuidString)"
        try FileManager.default.createDirectory(atPath: folder, withIntermediateDirectories: true)
        let receiver = try ChildProcess.spawn(
            "\(scripts)/webhook-receiver",
            arguments: [
                "--secret", "s3cret-0123456789abcdefghij", "--port-file", "\(folder)/port", "--log", "\(folder)/log",
            ])
        defer {
            kill(receiver, SIGTERM)
            waitpid(receiver, nil, 0)
        }
        var port: String?
        for _ in 0..<100 where port == nil {
            port = try? String(contentsOfFile: "\(folder)/port", encoding: .utf8)
            if port == nil { try await Task.sleep(for: .milliseconds(50)) }
        }
        let url = "http://127.0.0.1:\(try #require(port))/hooks"
        let sender = HTTPWebhookSender(policy: WebhookAddressPolicy(allowedHosts: ["127.0.0.1"]))
        let body = event("invoice.ready", "e-6", invoiceReady).encoded()
        let timestamp = Int64(Date().timeIntervalSince1970)
        let headers = [
            WebhookSignature.idHeader: "e-6", WebhookSignature.timestampHeader: String(timestamp),
            WebhookSignature.signatureHeader: WebhookSignature.signature(
                id: "e-6", timestamp: timestamp, body: body,
                secrets: ["an-old-secret-now-rotated", "s3cret-0123456789abcdefghij"]),
        ]
        #expect(await sender.post(to: url, headers: headers, body: body) == .status(200))
        var tampered = body
        tampered[tampered.count - 3] ^= 1
        #expect(await sender.post(to: url, headers: headers, body: tampered) == .status(401))
        #expect(await sender.post(to: "http://127.0.0.1:9/", headers: headers, body: body) == .failed(.refused))

        // Without the operator's leave the same receiver is never called: plain http is refused,
        // and so is every address of the cluster's own network, however the URL names it.
        let strict = HTTPWebhookSender(policy: WebhookAddressPolicy())
        let receiverPort = try #require(port)
        #expect(await strict.post(to: url, headers: headers, body: body) == .failed(.schemeNotAllowed))
        for address in ["127.0.0.1", "localhost", "127.1", "2130706433", "[::1]", "[::ffff:127.0.0.1]"] {
            #expect(
                await strict.post(to: "https://\(address):\(receiverPort)/hooks", headers: headers, body: body)
                    == .failed(.addressNotAllowed), "\(address)")
        }
        let logged = (try? String(contentsOfFile: "\(folder)/log", encoding: .utf8)) ?? ""
        #expect(logged.split(separator: "\n").count == 2, "only the two allowed requests reached the receiver")
    }
}
