import BillingDomain
import CommitmentsWorker
import CovenantMessages
import Foundation
import InvoicingWorker
import ProvisioningWorker
import Testing
import WorkerRuntime
import WorkerStores

/// Provisioning, invoicing and commitments handlers over their own SQLite stores, with a
/// queue between them standing in for the broker: each published event goes to every handler
/// that subscribes to it, a message told to retry later goes to the back, and with a seed the
/// queue delivers in random order (what competing consumers and redelivery do).
final class Pipeline {
    let provisioningStore: SQLiteWorkerStore
    let invoicingStore: SQLiteWorkerStore
    let commitmentsStore: SQLiteWorkerStore
    let provisioning: ProvisioningHandler
    let invoicing: InvoicingHandler
    let commitments: CommitmentsHandler
    private var sequence = 0
    private var queue: [(CloudEvent, Route)] = []
    private var random: SeededRandom?
    /// Messages parked with "retry later", over the whole pipeline.
    private(set) var retries = 0

    enum Route { case provisioning, invoicing, commitments }

    init(shuffleSeed: UInt64? = nil) async throws {
        let directory = NSTemporaryDirectory() + "covenant-pipeline-\(UUID().uuidString)"
        provisioningStore = try SQLiteWorkerStore(directory: directory, role: .provisioning)
        invoicingStore = try SQLiteWorkerStore(directory: directory, role: .invoicing)
        commitmentsStore = try SQLiteWorkerStore(directory: directory, role: .commitments)
        for store in [provisioningStore, invoicingStore, commitmentsStore] { try await store.migrate() }
        provisioning = ProvisioningHandler(
            store: provisioningStore, events: EventFactory(source: "covenant/provisioning"),
            now: { "2027-01-01T00:00:00Z" })
        invoicing = InvoicingHandler(
            store: invoicingStore, events: EventFactory(source: "covenant/invoicing"), now: { "2025-02-01T00:00:00Z" })
        commitments = CommitmentsHandler(
            store: commitmentsStore, events: EventFactory(source: "covenant/commitments"),
            now: { "2025-02-01T00:00:00Z" })
        random = shuffleSeed.map(SeededRandom.init)
    }

    func event(_ type: String, _ data: String) throws -> CloudEvent {
        sequence += 1
        return CloudEvent(
            id: "m-\(sequence)", source: "tests", type: type, time: "2025-01-15T09:30:00Z", tenantId: "acme",
            data: try #require(JSONValue.parse(Array(data.utf8))))
    }

    private func enqueue(_ event: CloudEvent) {
        if ProvisioningHandler.commands.contains(event.type) { queue.append((event, .provisioning)) }
        if InvoicingHandler.subscribedEvents.contains(event.type) { queue.append((event, .invoicing)) }
        if CommitmentsHandler.subscribedEvents.contains(event.type) { queue.append((event, .commitments)) }
    }

    /// Publishes a command (or an event) and delivers until nothing is left; returns every
    /// event published on the way, in the order published.
    @discardableResult
    func send(_ type: String, _ data: String) async throws -> [CloudEvent] {
        enqueue(try event(type, data))
        return try await drain()
    }

    /// Delivers queued messages until the queue is empty.
    func drain() async throws -> [CloudEvent] {
        var published: [CloudEvent] = []
        var idleRounds = 0
        while !queue.isEmpty {
            let index = random.map { Int($0.next() % UInt64(queue.count)) } ?? 0
            let (event, route) = queue.remove(at: index)
            let (handler, store): (any MessageHandler, any DocumentStore) =
                switch route {
                case .provisioning: (provisioning, provisioningStore)
                case .invoicing: (invoicing, invoicingStore)
                case .commitments: (commitments, commitmentsStore)
                }
            if try await store.hasHandled(messageId: event.id) { continue }
            switch try await handler.handle(event) {
            case .reject(let rejection), .rejectUnlessItArrives(let rejection, _, _):
                Issue.record("\(route) rejected \(event.type): \(rejection)")
            case .retryLater:
                retries += 1
                idleRounds += 1
                try #require(idleRounds < 10_000, "messages wait for something that never comes")
                queue.append((event, route))
            case .commit(var unit):
                idleRounds = 0
                unit.messageId = event.id
                #expect(try await store.commit(unit) == .committed)
                for message in unit.outbox {
                    let next = try CloudEvent.decode(message.body).get()
                    published.append(next)
                    enqueue(next)
                }
            }
        }
        return published
    }

    /// Runs a command through provisioning alone, with the commands it sends itself (a billing
    /// run's parts), and returns its events, undelivered.
    func provisioningOnly(_ type: String, _ data: String) async throws -> [CloudEvent] {
        try await provisioningOnly(try event(type, data))
    }

    private func provisioningOnly(_ command: CloudEvent) async throws -> [CloudEvent] {
        guard case .commit(var unit) = try await provisioning.handle(command) else {
            Issue.record("provisioning did not accept \(command.type)")
            return []
        }
        unit.messageId = command.id
        #expect(try await provisioningStore.commit(unit) == .committed)
        var events: [CloudEvent] = []
        for message in unit.outbox {
            let event = try CloudEvent.decode(message.body).get()
            events += event.type == ProvisioningHandler.runPart ? try await provisioningOnly(event) : [event]
        }
        return events
    }

    /// Hands events to the pipeline as if the broker delivered them now.
    func deliver(_ events: [CloudEvent]) async throws -> [CloudEvent] {
        events.forEach(enqueue)
        return try await drain()
    }
}

/// A small deterministic generator (SplitMix64) for reproducible shuffles.
final class SeededRandom {
    private var state: UInt64
    init(_ seed: UInt64) { state = seed }
    func next() -> UInt64 {
        state &+= 0x9E37_79B9_7F4A_7C15
        var z = state
        z = (z ^ (z >> 30)) &* 0xBF58_476D_1CE5_E4B9
        z = (z ^ (z >> 27)) &* 0x94D0_49BB_1331_11EB
        return z ^ (z >> 31)
    }
}

extension [CloudEvent] {
    func of(_ type: String) -> [CloudEvent] { filter { $0.type == type } }
}

@Suite("Invoicing fed by provisioning's events")
struct InvoicingPipelineTests {
    func setUp() async throws -> Pipeline {
        let pipeline = try await Pipeline()
        try await pipeline.send(
            "tenant.upsert",
            #"{"name":"Acme","platform_license":{"kind":"virtual","status":"active"},"service_contracts_enabled":true}"#
        )
        try await pipeline.send(
            "plan.upsert",
            #"{"plan_id":"vm","name":"VM Standard","currency":"INR","monthly_fee":"1000.00","service_type":"vm","usage_prices":[{"metric":"gb","model":"per_unit","unit_price":"0.10"}]}"#
        )
        try await pipeline.send(
            "plan.upsert",
            #"{"plan_id":"vm-premium","name":"VM Premium","currency":"INR","monthly_fee":"2000.00","service_type":"vm"}"#
        )
        try await pipeline.send(
            "service.provision",
            #"{"customer_id":"cust-1","service_id":"vm-1","plan_id":"vm","start_date":"2025-01-15","billing_model":"fixed_term","payment_mode":"postpaid","contract":{"term_months":12,"monthly_fee":"1000.00","discount_percent":"10"}}"#
        )
        try await pipeline.send(
            "service.provision",
            #"{"customer_id":"cust-1","service_id":"sim-1","plan_id":"vm","start_date":"2025-01-01","billing_model":"payg","payment_mode":"postpaid"}"#
        )
        return pipeline
    }

    @Test("The worked example's first invoice, with PAYG usage, then a repeated run issues nothing")
    func firstInvoice() async throws {
        let pipeline = try await setUp()
        try await pipeline.send(
            "usage.rated",
            #"{"records":[{"usage_id":"u-1","customer_id":"cust-1","service_id":"sim-1","metric":"gb","quantity":"123.5","month":"2025-01","date":"2025-01-20","late":false,"billing_model":"payg"},{"usage_id":"u-2","customer_id":"cust-1","service_id":"vm-1","metric":"gb","quantity":"999","month":"2025-01","date":"2025-01-20","late":false,"billing_model":"fixed_term"}]}"#
        )
        let events = try await pipeline.send("billing.run", #"{"as_of":"2025-02-01"}"#)
        let ready = events.of("invoice.ready")
        try #require(ready.count == 1)
        let invoice = ready[0].data
        guard case .array(let lines) = invoice["lines"] else {
            Issue.record("no lines")
            return
        }
        // 17/31 of 1000.00 less 10 %; 123.5 GB × 0.10 (the fixed-term service's usage is not charged).
        #expect(lines.map { $0["amount"] } == [.string("493.55"), .string("12.35")])
        #expect(
            lines.first?["gross_amount"] == .string("548.39") && lines.first?["discount_amount"] == .string("54.84"))
        #expect(invoice["total"] == .string("505.90"))
        #expect(
            events.of("billing.run.completed").map { $0.data["invoice_ids"] } == [
                .array([.string("INV-cust-1-20250201-INR")])
            ])
        let stored = try #require(
            try await pipeline.invoicingStore.invoice(tenantId: "acme", invoiceId: "INV-cust-1-20250201-INR"))
        #expect(stored.total == Rational(decimal: "505.90"))

        let again = try await pipeline.send("billing.run", #"{"as_of":"2025-02-01"}"#)
        #expect(again.of("invoice.ready").isEmpty)
        #expect(again.of("billing.run.completed").map { $0.data["invoice_ids"] } == [.array([])])
    }

    @Test(
        "Usage rating took before it learned of a cancellation dated earlier is charged on its plan, whichever arrives first",
        arguments: ["2025-01-25", "2025-01-01"])
    func usageAfterServiceEnd(cancelledOn: String) async throws {
        let cancel = #"{"service_id":"sim-1","effective_date":"\#(cancelledOn)"}"#
        // u-2 (and with a cancellation on the start date, u-1 too) is dated on or after the
        // cancellation's day: rating took it before it learned of it, on plan vm.
        let usage =
            #"{"records":[{"usage_id":"u-1","customer_id":"cust-1","service_id":"sim-1","metric":"gb","quantity":"10","month":"2025-01","date":"2025-01-20","late":false,"billing_model":"payg","plan_id":"vm"},{"usage_id":"u-2","customer_id":"cust-1","service_id":"sim-1","metric":"gb","quantity":"50","month":"2025-01","date":"2025-01-25","late":false,"billing_model":"payg","plan_id":"vm"}]}"#
        var invoices: [[JSONValue?]] = []
        for usageFirst in [false, true] {
            let pipeline = try await setUp()
            if usageFirst { try await pipeline.send("usage.rated", usage) }
            try await pipeline.send("service.cancel", cancel)
            if !usageFirst { try await pipeline.send("usage.rated", usage) }
            #expect(pipeline.retries == 0)
            let ready = try await pipeline.send("billing.run", #"{"as_of":"2025-02-01"}"#).of("invoice.ready")
            try #require(ready.count == 1)
            guard case .array(let lines) = ready[0].data["lines"] else {
                Issue.record("no lines")
                return
            }
            invoices.append(lines.map { $0["amount"] } + lines.map { $0["quantity"] })
        }
        // The contract's 17 days, and both records: 60 GB × 0.10.
        #expect(invoices[0] == [.string("493.55"), .string("6.00"), nil, .string("60")])
        #expect(invoices[1] == invoices[0])
    }

    /// Two pipelines with the same history and a second customer with a PAYG service: one to
    /// take messages in batches, one to take them one by one.
    func twoPipelines() async throws -> (Pipeline, Pipeline) {
        let pipelines = (try await setUp(), try await setUp())
        for pipeline in [pipelines.0, pipelines.1] {
            try await pipeline.send(
                "service.provision",
                #"{"customer_id":"cust-2","service_id":"sim-2","plan_id":"vm","start_date":"2025-01-01","billing_model":"payg","payment_mode":"postpaid"}"#
            )
        }
        return pipelines
    }

    @Test(
        "A batch of rated usage lands as the same messages one by one do, each over what the one before it wrote; a message rejected halfway changes nothing"
    )
    func usageBatch() async throws {
        let (batched, single) = try await twoPipelines()
        func rated(_ records: [(customer: String, service: String, quantity: String, model: String)]) -> String {
            let items = records.map {
                #"{"usage_id":"u","customer_id":"\#($0.customer)","service_id":"\#($0.service)","metric":"gb","quantity":"\#($0.quantity)","month":"2025-01","date":"2025-01-20","late":false,"billing_model":"\#($0.model)"}"#
            }
            return #"{"records":["# + items.joined(separator: ",") + "]}"
        }
        let events = try [
            rated([("cust-1", "sim-1", "1.5", "payg")]),
            rated([("cust-2", "sim-2", "2", "payg"), ("cust-1", "sim-1", "4", "payg")]),
            // The first record alone would be accepted: the second rejects the whole message.
            rated([("cust-2", "sim-2", "7", "payg"), ("cust-1", "sim-1", "-3", "payg")]),
            rated([("cust-1", "sim-1", "0.5", "payg"), ("cust-1", "vm-1", "5", "fixed_term")]),
        ].map { try batched.event("usage.rated", $0) }

        for (handler, store, kind): (any MessageHandler, SQLiteWorkerStore, String) in [
            (batched.invoicing, batched.invoicingStore, "account"),
            (batched.commitments, batched.commitmentsStore, "ledger"),
        ] {
            #expect(handler.batchableTypes.contains("usage.rated"))
            var units: [UnitOfWork] = []
            for (index, (event, outcome)) in zip(events, try await handler.handle(batch: events)).enumerated() {
                switch outcome {
                case .commit(var unit):
                    unit.messageId = event.id
                    units.append(unit)
                case .reject:
                    #expect(index == 2)
                    units.append(UnitOfWork(messageId: event.id))
                case .retryLater(let reason, _):
                    Issue.record("\(kind): \(reason)")
                case .rejectUnlessItArrives(let rejection, _, _):
                    Issue.record("\(kind): \(rejection)")
                }
            }
            // cust-1's document is written three times in the batch, each over the last.
            #expect(units.flatMap(\.documents).filter { $0.key == "acme/cust-1" }.count == 3)
            #expect(try await store.commit(together: units) == .committed)
        }
        for event in events {
            for (handler, store): (any MessageHandler, SQLiteWorkerStore) in [
                (single.invoicing, single.invoicingStore), (single.commitments, single.commitmentsStore),
            ] {
                guard case .commit(var unit) = try await handler.handle(event) else { continue }
                unit.messageId = event.id
                #expect(try await store.commit(unit) == .committed)
            }
        }
        for customer in ["acme/cust-1", "acme/cust-2"] {
            let account = try await batched.invoicingStore.document(kind: "account", key: customer)
            let accountOneByOne = try await single.invoicingStore.document(kind: "account", key: customer)
            #expect(account != nil && account == accountOneByOne)
            let ledger = try await batched.commitmentsStore.document(kind: "ledger", key: customer)
            let ledgerOneByOne = try await single.commitmentsStore.document(kind: "ledger", key: customer)
            #expect(ledger != nil && ledger == ledgerOneByOne)
        }
        // 1.5 + 4 + 0.5 GB and 2 GB at 0.10: the rejected message's 7 GB and -3 GB are not there.
        let ready = try await batched.send("billing.run", #"{"as_of":"2025-02-01"}"#).of("invoice.ready")
        let usage = Dictionary(
            uniqueKeysWithValues: ready.map { invoice -> (JSONValue?, [JSONValue?]) in
                guard case .array(let lines)? = invoice.data["lines"] else { return (invoice.data["customer_id"], []) }
                return (
                    invoice.data["customer_id"], lines.filter { $0["type"] == .string("usage") }.map { $0["amount"] }
                )
            })
        #expect(usage[.string("cust-1")] == [.string("0.60")] && usage[.string("cust-2")] == [.string("0.20")])
    }

    @Test(
        "A run's closed periods taken as one batch: the run is counted customer by customer within it and completes once, with the invoices one by one gives"
    )
    func billingRunBatch() async throws {
        let (batched, single) = try await twoPipelines()
        for pipeline in [batched, single] {
            try await pipeline.send(
                "service.provision",
                #"{"customer_id":"cust-3","service_id":"vm-3","plan_id":"vm","start_date":"2025-01-10","billing_model":"fixed_term","payment_mode":"postpaid","contract":{"term_months":6,"monthly_fee":"900.00"}}"#
            )
            try await pipeline.send(
                "usage.rated",
                #"{"records":[{"usage_id":"u-1","customer_id":"cust-2","service_id":"sim-2","metric":"gb","quantity":"30","month":"2025-01","date":"2025-01-20","late":false,"billing_model":"payg"}]}"#
            )
        }
        let oneByOne = try await single.send("billing.run", #"{"as_of":"2025-02-01"}"#)

        // The run starts one part for its three customers, which closes their periods.
        guard
            case .commit(let started) = try await batched.provisioning.handle(
                batched.event("billing.run", #"{"as_of":"2025-02-01"}"#))
        else {
            Issue.record("the run was not started")
            return
        }
        let parts = try started.outbox.map { try CloudEvent.decode($0.body).get() }
        #expect(parts.map(\.type) == [ProvisioningHandler.runPart])
        #expect(started.outbox.allSatisfy { $0.exchange == Topology.commandsExchange })
        let closing = try await commitBatch(parts, batched.provisioning, batched.provisioningStore)
        let periods = closing.of("billing.period_closed")
        try #require(periods.count == 3)
        #expect(Set(periods.map { $0.data["customers"] }) == [.number("3")])
        let units = try await commitBatchUnits(periods, batched.invoicing, batched.invoicingStore)
        let published = try units.flatMap(\.outbox).map { try CloudEvent.decode($0.body).get() }
        // The last customer of the batch completes the run: its invoice ids come from the
        // customers decided before it in the same batch, not yet stored when it was decided.
        #expect(units.map { $0.outbox.contains { $0.type == "billing.run.completed" } } == [false, false, true])
        let expected = oneByOne.of("billing.run.completed").map { $0.data["invoice_ids"] }
        #expect(expected.count == 1 && published.of("billing.run.completed").map { $0.data["invoice_ids"] } == expected)
        #expect(published.of("invoice.ready").map(\.data) == oneByOne.of("invoice.ready").map(\.data))
        #expect(published.of("invoice.ready").count == 3)
        // Delivered again, one by one: nothing more is invoiced and the run is not completed twice.
        let again = try await batched.deliver(periods)
        #expect(again.isEmpty)
    }

    /// Hands `events` to `handler` as one batch and commits the units together; returns them.
    func commitBatchUnits(
        _ events: [CloudEvent], _ handler: some MessageHandler, _ store: SQLiteWorkerStore
    ) async throws -> [UnitOfWork] {
        var units: [UnitOfWork] = []
        for (event, outcome) in zip(events, try await handler.handle(batch: events)) {
            guard case .commit(var unit) = outcome else {
                Issue.record("\(event.type) of \(event.data["customer_id"] ?? .null) not taken: \(outcome)")
                continue
            }
            unit.messageId = event.id
            units.append(unit)
        }
        #expect(try await store.commit(together: units) == .committed)
        return units
    }

    /// The events of a batch committed with ``commitBatchUnits(_:_:_:)``.
    func commitBatch(
        _ events: [CloudEvent], _ handler: some MessageHandler, _ store: SQLiteWorkerStore
    ) async throws -> [CloudEvent] {
        try await commitBatchUnits(events, handler, store).flatMap(\.outbox).map {
            try CloudEvent.decode($0.body).get()
        }
    }

    @Test("A plan change issues its pro-rata invoice at once; the next run bills the new plan")
    func planChange() async throws {
        let pipeline = try await setUp()
        try await pipeline.send("billing.run", #"{"as_of":"2025-02-01"}"#)
        let immediate = try await pipeline.send(
            "service.change_plan", #"{"service_id":"vm-1","plan_id":"vm-premium","effective_date":"2025-02-15"}"#)
        let ready = immediate.of("invoice.ready")
        #expect(ready.count == 1 && immediate.of("billing.run.completed").count == 1)
        #expect(
            ready.first?.data["issue_date"] == .string("2025-02-15") && ready.first?.data["total"] == .string("450.00"))
        let march = try await pipeline.send("billing.run", #"{"as_of":"2025-03-01"}"#)
        // 14/28 of 2000.00 less the kept 10 %.
        #expect(march.of("invoice.ready").first?.data["total"] == .string("900.00"))
    }

    @Test("A plan change or cancellation dated inside days a run closed is period_already_invoiced")
    func closedPeriod() async throws {
        let pipeline = try await setUp()
        try await pipeline.send("billing.run", #"{"as_of":"2025-03-01"}"#)
        for (type, data) in [
            ("service.change_plan", #"{"service_id":"vm-1","plan_id":"vm-premium","effective_date":"2025-02-15"}"#),
            ("service.cancel", #"{"service_id":"vm-1","effective_date":"2025-02-28"}"#),
            ("service.cancel", #"{"service_id":"sim-1","effective_date":"2025-01-31"}"#),
        ] {
            guard case .reject(let rejection) = try await pipeline.provisioning.handle(try pipeline.event(type, data))
            else {
                Issue.record("\(type) \(data) was accepted")
                continue
            }
            #expect(rejection.code == .periodAlreadyInvoiced)
        }
        // On the first day the run did not cover, the change is accepted.
        let accepted = try await pipeline.send(
            "service.change_plan", #"{"service_id":"vm-1","plan_id":"vm-premium","effective_date":"2025-03-01"}"#)
        #expect(accepted.of("contract.plan_changed").count == 1)
    }

    @Test("A cancellation's remainder fee lands on the next run with the last prorated month")
    func cancellation() async throws {
        let pipeline = try await setUp()
        try await pipeline.send("billing.run", #"{"as_of":"2025-08-01"}"#)
        try await pipeline.send(
            "service.provision",
            #"{"customer_id":"cust-2","service_id":"vm-2","plan_id":"vm","start_date":"2025-01-15","billing_model":"fixed_term","payment_mode":"manual","contract":{"term_months":12,"monthly_fee":"1000.00","discount_percent":"10","early_termination":{"kind":"remainder"}}}"#
        )
        try await pipeline.send("billing.run", #"{"as_of":"2025-08-01"}"#)
        try await pipeline.send("service.cancel", #"{"service_id":"vm-2","effective_date":"2025-08-10"}"#)
        let september = try await pipeline.send("billing.run", #"{"as_of":"2025-09-01"}"#)
        let customerTwo = try #require(
            september.of("invoice.ready").first { $0.data["customer_id"] == .string("cust-2") })
        // 9/31 of August less 10 % (261.29) and the remainder fee 4645.16 (see the domain tests).
        #expect(customerTwo.data["total"] == .string("4906.45"))
        #expect(
            september.of("billing.run.completed").first?.data["invoice_ids"].map { value in
                if case .array(let ids) = value { ids.count } else { 0 }
            } == 2)
    }

    @Test("Term end: the run that renews a contract bills the renewed days; expire ends once")
    func renewalAndExpiry() async throws {
        let pipeline = try await setUp()
        try await pipeline.send(
            "service.provision",
            #"{"customer_id":"cust-3","service_id":"vm-3","plan_id":"vm","start_date":"2025-01-15","billing_model":"fixed_term","payment_mode":"postpaid","contract":{"term_months":12,"monthly_fee":"1000.00","discount_percent":"10","renewal":{"policy":"auto_renew"}}}"#
        )
        try await pipeline.send("billing.run", #"{"as_of":"2026-01-01"}"#)
        // The run of 2026-02-01 renews vm-3 and lets vm-1 (expire) end, and bills both at once.
        let february = try await pipeline.send("billing.run", #"{"as_of":"2026-02-01"}"#)
        #expect(february.of("contract.renewed").count == 1 && february.of("contract.expired").count == 1)
        let renewed = try #require(february.of("invoice.ready").first { $0.data["customer_id"] == .string("cust-3") })
        // 1–14 January on the old contract (406.45) and 15–31 January on the renewed one (493.55).
        #expect(renewed.data["total"] == .string("900.00"))
        // A later run renews nothing again and expires nothing twice.
        let again = try await pipeline.send("billing.run", #"{"as_of":"2026-03-01"}"#)
        #expect(again.of("contract.renewed").isEmpty && again.of("contract.expired").isEmpty)
    }

    @Test(
        "Drafts taken by commitments as one batch evaluate as they do one by one, and delivered again evaluate no window twice"
    )
    func draftBatch() async throws {
        let (batched, single) = (try await setUp(), try await setUp())
        for pipeline in [batched, single] {
            for (customer, quantity) in [("cust-4", "40"), ("cust-5", "140")] {
                try await pipeline.send(
                    "service.provision",
                    #"{"customer_id":"\#(customer)","service_id":"sim-\#(customer)","plan_id":"vm","start_date":"2025-01-01","billing_model":"fixed_term","payment_mode":"postpaid","contract":{"term_months":12,"monthly_fee":"100.00","commitments":[{"id":"sms","type":"usage","metric":"sms_mo_mb","frequency_months":1,"ramp":[{"from_window":1,"amount":"100"}],"penalty":{"kind":"count","unit_price":"0.10"}}]}}"#
                )
                try await pipeline.send(
                    "usage.rated",
                    #"{"records":[{"usage_id":"u-\#(customer)","customer_id":"\#(customer)","service_id":"sim-\#(customer)","metric":"sms_mo_mb","quantity":"\#(quantity)","month":"2025-01","date":"2025-01-20","late":false,"billing_model":"fixed_term"}]}"#
                )
            }
        }
        let oneByOne = try await single.send("billing.run", #"{"as_of":"2025-02-01"}"#).of("commitments.evaluated")

        #expect(batched.commitments.batchableTypes.contains("invoice.drafted"))
        let periods = try await batched.provisioningOnly("billing.run", #"{"as_of":"2025-02-01"}"#)
            .of("billing.period_closed")
        let drafts = try await commitBatch(periods, batched.invoicing, batched.invoicingStore).of("invoice.drafted")
        try #require(drafts.count == 2)
        let evaluated = try await commitBatch(drafts, batched.commitments, batched.commitmentsStore)
        func windows(_ events: [CloudEvent]) -> [JSONValue?: JSONValue?] {
            Dictionary(uniqueKeysWithValues: events.map { ($0.data["customer_id"], $0.data["windows"]) })
        }
        // cust-4 missed its 100 by 60, cust-5 met it; the same as one by one.
        #expect(windows(evaluated).count == 2 && windows(evaluated) == windows(oneByOne))
        for customer in ["acme/cust-4", "acme/cust-5"] {
            let ledger = try await batched.commitmentsStore.document(kind: "ledger", key: customer)
            let ledgerOneByOne = try await single.commitmentsStore.document(kind: "ledger", key: customer)
            #expect(ledger != nil && ledger == ledgerOneByOne)
        }
        // The drafts again, as one batch: every window is evaluated already.
        let again = try await commitBatch(
            drafts.map { draft in
                var copy = draft
                copy.id += "-again"
                return copy
            }, batched.commitments, batched.commitmentsStore)
        #expect(again.count == 2 && again.allSatisfy { $0.data["windows"] == .array([]) })
    }

    @Test("A usage commitment missed: commitments evaluates the draft and the shortfall line joins the invoice")
    func commitmentShortfall() async throws {
        let pipeline = try await setUp()
        try await pipeline.send(
            "service.provision",
            #"{"customer_id":"cust-4","service_id":"sim-9","plan_id":"vm","start_date":"2025-01-01","billing_model":"fixed_term","payment_mode":"postpaid","contract":{"term_months":12,"monthly_fee":"100.00","commitments":[{"id":"sms","type":"usage","metric":"sms_mo_mb","frequency_months":1,"ramp":[{"from_window":1,"amount":"100"}],"penalty":{"kind":"tiered","tiers":[{"up_to":"50","unit_price":"0.10"},{"up_to":null,"unit_price":"0.20"}]}}]}}"#
        )
        try await pipeline.send(
            "usage.rated",
            #"{"records":[{"usage_id":"u-9","customer_id":"cust-4","service_id":"sim-9","metric":"sms_mo_mb","quantity":"40","month":"2025-01","date":"2025-01-20","late":false,"billing_model":"fixed_term"}]}"#
        )
        let events = try await pipeline.send("billing.run", #"{"as_of":"2025-02-01"}"#)
        #expect(events.of("invoice.drafted").count == 1 && events.of("commitments.evaluated").count == 1)
        let invoice = try #require(events.of("invoice.ready").first { $0.data["customer_id"] == .string("cust-4") })
        guard case .array(let lines) = invoice.data["lines"] else {
            Issue.record("no lines")
            return
        }
        let shortfall = try #require(lines.first { $0["type"] == .string("commitment_shortfall") })
        // Shortfall 60: 50 × 0.10 + 10 × 0.20.
        #expect(shortfall["amount"] == .string("7.00"))
        #expect(shortfall["committed"] == .string("100") && shortfall["actual"] == .string("40"))
        #expect(invoice.data["total"] == .string("107.00"))
        // Both customers' invoices complete the run.
        #expect(events.of("billing.run.completed").count == 1)
        // A repeated run evaluates no window twice.
        let again = try await pipeline.send("billing.run", #"{"as_of":"2025-02-01"}"#)
        #expect(again.of("invoice.ready").isEmpty)
    }

    @Test(
        "Provisioning's events delivered in any order give the same invoices", arguments: [1, 2, 3, 4, 5] as [UInt64])
    func reordered(seed: UInt64) async throws {
        func history(_ pipeline: Pipeline) async throws -> [CloudEvent] {
            var events: [CloudEvent] = []
            for (type, data) in Self.history {
                events += try await pipeline.provisioningOnly(type, data)
            }
            return events
        }
        let inOrder = try await Pipeline()
        let expected = try await inOrder.deliver(try await history(inOrder)).of("invoice.ready")
        let shuffled = try await Pipeline(shuffleSeed: seed)
        let actual = try await shuffled.deliver(try await history(shuffled)).of("invoice.ready")
        #expect(expected.count == 7)
        #expect(
            Dictionary(uniqueKeysWithValues: actual.map { ($0.id, $0.data) })
                == Dictionary(uniqueKeysWithValues: expected.map { ($0.id, $0.data) }))
        #expect(shuffled.retries > 0, "the shuffle made some event wait for its predecessor")
    }

    /// Commands for provisioning: tenant, plans, a contract with an invoice-amount commitment
    /// that a plan change carries, a PAYG service, runs, and a cancellation.
    static let history: [(String, String)] = [
        (
            "tenant.upsert",
            #"{"name":"Acme","platform_license":{"kind":"virtual","status":"active"},"service_contracts_enabled":true}"#
        ),
        (
            "plan.upsert",
            #"{"plan_id":"vm","name":"VM Standard","currency":"INR","monthly_fee":"1000.00","service_type":"vm"}"#
        ),
        (
            "plan.upsert",
            #"{"plan_id":"vm-premium","name":"VM Premium","currency":"INR","monthly_fee":"2000.00","service_type":"vm"}"#
        ),
        (
            "service.provision",
            #"{"customer_id":"cust-1","service_id":"vm-1","plan_id":"vm","start_date":"2025-01-15","billing_model":"fixed_term","payment_mode":"postpaid","contract":{"term_months":12,"monthly_fee":"1000.00","discount_percent":"10","commitments":[{"id":"spend","type":"invoice_amount","frequency_months":1,"ramp":[{"from_window":1,"amount":"1200"}],"penalty":{"kind":"charge"}}]}}"#
        ),
        (
            "service.provision",
            #"{"customer_id":"cust-2","service_id":"vm-2","plan_id":"vm","start_date":"2025-01-01","billing_model":"fixed_term","payment_mode":"postpaid","contract":{"term_months":12,"monthly_fee":"1000.00","early_termination":{"kind":"remainder"}}}"#
        ),
        ("billing.run", #"{"as_of":"2025-02-01"}"#),
        ("service.change_plan", #"{"service_id":"vm-1","plan_id":"vm-premium","effective_date":"2025-02-15"}"#),
        ("billing.run", #"{"as_of":"2025-03-01"}"#),
        ("service.cancel", #"{"service_id":"vm-2","effective_date":"2025-03-10"}"#),
        ("billing.run", #"{"as_of":"2025-04-01"}"#),
    ]
}
