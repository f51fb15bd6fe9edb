import BillingDomain
import CovenantMessages
import Foundation
import ProvisioningWorker
import Testing
import WorkerRuntime
import WorkerStores

/// Provisioning's handler over a real SQLite store, fed commands the way the runtime does.
final class Provisioning {
    let store: SQLiteWorkerStore
    let handler: ProvisioningHandler
    private var sequence = 0

    /// `now`: the handler's clock, which its date rules read (runs up to a day ahead, dates
    /// within ten years); after every date the tests name, unless a test sets it.
    init(now: String = "2027-01-01T00:00:00Z") async throws {
        store = try SQLiteWorkerStore(
            directory: NSTemporaryDirectory() + "covenant-provisioning-\(UUID().uuidString)", role: .provisioning)
        try await store.migrate()
        handler = ProvisioningHandler(
            store: store, events: EventFactory(source: "covenant/provisioning"), now: { now })
    }

    /// Sends a command; returns the events it published (decoded) or its rejection.
    func send(_ type: String, _ data: String, tenant: String = "acme") async throws -> Result<[CloudEvent], Rejection> {
        sequence += 1
        let command = CloudEvent(
            id: "cmd-\(sequence)", source: "tests", type: type, time: "2025-01-15T09:30:00Z", tenantId: tenant,
            data: try #require(JSONValue.parse(Array(data.utf8)), "test data is not JSON"))
        switch try await handler.handle(command) {
        case .reject(let rejection):
            return .failure(rejection)
        case .retryLater(let reason, _, _):
            Issue.record("provisioning does not wait: \(reason)")
            return .success([])
        case .rejectUnlessItArrives(let rejection, _, _):
            Issue.record("provisioning does not wait: \(rejection)")
            return .success([])
        case .commit(var unit):
            unit.messageId = command.id
            #expect(try await store.commit(unit) == .committed)
            return .success(unit.outbox.map { try! CloudEvent.decode($0.body).get() })
        }
    }

    func code(_ type: String, _ data: String, tenant: String = "acme") async throws -> RejectionCode? {
        if case .failure(let rejection) = try await send(type, data, tenant: tenant) { return rejection.code }
        return nil
    }

    static let tenant = """
        {"name":"Acme MSP","platform_license":{"kind":"virtual","status":"active"},"service_contracts_enabled":true,
         "notification":{"webhook_url":"https://hooks.acme.example/billing","webhook_secret":"s3cret-0123456789abcdefghij"}}
        """
    static let plan =
        #"{"plan_id":"vm-standard","name":"VM Standard","currency":"INR","monthly_fee":"1000.00","service_type":"vm","term_discounts":{"12":"5"}}"#
    static let premium =
        #"{"plan_id":"vm-premium","name":"VM Premium","currency":"INR","monthly_fee":"2000.00","service_type":"vm"}"#

    static func provision(
        _ service: String = "vm-1", plan: String = "vm-standard", payment: String = "postpaid", contract: String
    ) -> String {
        """
        {"customer_id":"cust-1","service_id":"\(service)","plan_id":"\(plan)","start_date":"2025-01-15",
         "billing_model":"fixed_term","payment_mode":"\(payment)","contract":\(contract)}
        """
    }

    static let workedExample =
        #"{"term_months":12,"monthly_fee":"1000.00","discount_percent":"10","cancellation_deadline_months":6,"early_termination":{"kind":"remainder"}}"#
}

@Suite("Provisioning handler")
struct ProvisioningHandlerTests {
    @Test("Tenant, plan and a fixed-term service: the documents and the events the interface lists")
    func provisionContract() async throws {
        let provisioning = try await Provisioning()
        let tenantEvents = try await provisioning.send("tenant.upsert", Provisioning.tenant).get()
        #expect(tenantEvents.map(\.type) == ["tenant.updated"])
        // The tenant's settings are published; its webhook (address and secret) never is.
        #expect(tenantEvents[0].data["notification"] == nil)
        #expect(tenantEvents[0].data["name"] == .string("Acme MSP"))
        #expect(tenantEvents[0].data["service_contracts_enabled"] == .bool(true))
        #expect(try await provisioning.send("plan.upsert", Provisioning.plan).get().map(\.type) == ["plan.updated"])

        let events = try await provisioning.send(
            "service.provision", Provisioning.provision(contract: Provisioning.workedExample)
        ).get()
        #expect(events.map(\.type) == ["service.activated", "contract.activated"])
        #expect(events.allSatisfy { $0.causationId == "cmd-3" })
        let activated = events[1].data
        #expect(activated["contract_id"] == .string("vm-1-1"))
        #expect(activated["start_date"] == .string("2025-01-15") && activated["end_date"] == .string("2026-01-15"))
        #expect(activated["monthly_fee"] == .string("1000.00") && activated["discount_percent"] == .string("10"))
        // The contract travels whole, for invoicing and commitments.
        let contract = try ContractEncoding.decodeContract(try #require(activated["contract"]))
        #expect(contract.monthlyFee.decimalText == "1000.00" && contract.terms.cancellationDeadlineMonths == 6)
    }

    @Test("A contract without a fee takes the plan's fee less its term discount")
    func planPrice() async throws {
        let provisioning = try await Provisioning()
        _ = try await provisioning.send("tenant.upsert", Provisioning.tenant)
        _ = try await provisioning.send("plan.upsert", Provisioning.plan)
        let events = try await provisioning.send(
            "service.provision", Provisioning.provision(contract: #"{"term_months":12}"#)
        ).get()
        #expect(events[1].data["monthly_fee"] == .string("950.00"))
    }

    @Test("tenant.updated publishes the allowed settings only: no webhook, no field the interface does not name")
    func tenantUpdatedAllowList() async throws {
        let provisioning = try await Provisioning()
        let extra = try await provisioning.send(
            "tenant.upsert",
            Provisioning.tenant.replacingOccurrences(of: "{\"name\"", with: #"{"internal_note":"x","name""#)
        ).get()
        #expect(extra[0].data["internal_note"] == nil && extra[0].data["notification"] == nil)
        #expect(extra[0].data["name"] == .string("Acme MSP"))
        // Nor does provisioning keep the webhook: its secret lives with notification alone.
        let stored = try #require(try await provisioning.store.document(kind: "tenant", key: "acme"))
        #expect(JSONValue.parse(stored.body)?["notification"] == nil)
        // Each upsert's revision orders them as provisioning applied them (notification's order).
        #expect(extra[0].data["revision"] == .number("1") && extra[0].causationId != nil)
        let again = try await provisioning.send("tenant.upsert", Provisioning.tenant).get()
        #expect(again[0].data["revision"] == .number("2"))
    }

    @Test("Every rule broken is its rejection code, and changes nothing")
    func rejections() async throws {
        let provisioning = try await Provisioning()
        #expect(try await provisioning.code("plan.upsert", Provisioning.plan) == .unknownTenant)
        _ = try await provisioning.send("tenant.upsert", Provisioning.tenant)
        _ = try await provisioning.send("plan.upsert", Provisioning.plan)
        #expect(
            try await provisioning.code(
                "service.provision", Provisioning.provision(plan: "vm-gold", contract: #"{"term_months":12}"#))
                == .unknownPlan)
        #expect(
            try await provisioning.code("service.provision", Provisioning.provision(contract: #"{"term_months":18}"#))
                == .unsupportedTerm)
        #expect(
            try await provisioning.code(
                "service.provision", Provisioning.provision(payment: "prepaid", contract: #"{"term_months":12}"#))
                == .prepaidNotSupported)
        _ = try await provisioning.send(
            "service.provision", Provisioning.provision(contract: Provisioning.workedExample))
        #expect(
            try await provisioning.code("service.provision", Provisioning.provision(contract: #"{"term_months":12}"#))
                == .duplicateService)
        #expect(
            try await provisioning.code("service.cancel", #"{"service_id":"vm-9","effective_date":"2025-09-01"}"#)
                == .unknownService)
        #expect(
            try await provisioning.code("service.cancel", #"{"service_id":"vm-1","effective_date":"2025-06-01"}"#)
                == .cancellationBlocked)
        #expect(
            try await provisioning.code(
                "service.provision",
                Provisioning.provision("vm-2", contract: #"{"term_months":12,"charge_to_service_id":"vm-404"}"#))
                == .unknownService)

        // Contracts switched off: new contracts refused, PAYG still fine.
        _ = try await provisioning.send(
            "tenant.upsert",
            Provisioning.tenant.replacingOccurrences(
                of: "\"service_contracts_enabled\":true", with: "\"service_contracts_enabled\":false"))
        #expect(
            try await provisioning.code(
                "service.provision", Provisioning.provision("vm-3", contract: #"{"term_months":12}"#))
                == .contractsDisabled)
        let payg =
            #"{"customer_id":"cust-1","service_id":"sim-1","plan_id":"vm-standard","start_date":"2025-01-15","billing_model":"payg","payment_mode":"postpaid"}"#
        #expect(try await provisioning.send("service.provision", payg).get().map(\.type) == ["service.activated"])
    }

    @Test("Another tenant's plans and services are invisible")
    func isolation() async throws {
        let provisioning = try await Provisioning()
        _ = try await provisioning.send("tenant.upsert", Provisioning.tenant)
        _ = try await provisioning.send("plan.upsert", Provisioning.plan)
        _ = try await provisioning.send(
            "service.provision", Provisioning.provision(contract: Provisioning.workedExample))
        _ = try await provisioning.send("tenant.upsert", Provisioning.tenant, tenant: "rival")
        #expect(
            try await provisioning.code(
                "service.provision", Provisioning.provision("vm-9", contract: #"{"term_months":12}"#), tenant: "rival")
                == .unknownPlan)
        #expect(
            try await provisioning.code(
                "service.cancel", #"{"service_id":"vm-1","effective_date":"2025-09-01"}"#, tenant: "rival")
                == .unknownService)
        // The same service id is free in the other tenant.
        _ = try await provisioning.send("plan.upsert", Provisioning.plan, tenant: "rival")
        #expect(
            try await provisioning.send(
                "service.provision", Provisioning.provision(contract: #"{"term_months":12}"#), tenant: "rival"
            ).get().count == 2)
    }

    @Test(
        "A billing run splits the tenant's customers into parts, over pages of services; a part naming another customer's or tenant's service, or one twice, is rejected and changes nothing"
    )
    func runParts() async throws {
        let provisioning = try await Provisioning()
        for tenant in ["acme", "rival"] {
            _ = try await provisioning.send("tenant.upsert", Provisioning.tenant, tenant: tenant)
            _ = try await provisioning.send("plan.upsert", Provisioning.plan, tenant: tenant)
        }
        func payg(_ customer: String, _ service: String) -> String {
            #"{"customer_id":"\#(customer)","service_id":"\#(service)","plan_id":"vm-standard","start_date":"2025-01-15","billing_model":"payg","payment_mode":"postpaid"}"#
        }
        // 1,051 services of 1,050 customers: more than a page of the store's reads, and a last part
        // smaller than the others.
        let customers = 1_050
        for n in 0..<customers {
            _ = try await provisioning.send("service.provision", payg("c\(n)", "s\(n)")).get()
        }
        _ = try await provisioning.send("service.provision", payg("c0", "s-extra")).get()
        _ = try await provisioning.send("service.provision", payg("c0", "r-1"), tenant: "rival").get()

        let parts = try await provisioning.send("billing.run", #"{"as_of":"2025-02-01"}"#).get()
        let size = ProvisioningHandler.customersPerPart
        #expect(
            parts.count == (customers + size - 1) / size && parts.allSatisfy { $0.type == BillingRunPart.type })
        #expect(Set(parts.map { $0.data["customers"] }) == [.number(String(customers))])
        let named = parts.flatMap { part -> [JSONValue] in
            if case .array(let items)? = part.data["part"] { items } else { [] }
        }
        // Every customer in exactly one part, with all their services and no one else's.
        #expect(named.count == customers && Set(named.compactMap { $0["customer_id"] }).count == customers)
        #expect(
            parts.dropLast().allSatisfy { part in
                if case .array(let items)? = part.data["part"] { items.count == size } else { false }
            })
        let first = try #require(named.first { $0["customer_id"] == .string("c0") })
        #expect(first["service_ids"] == .array([.string("s-extra"), .string("s0")]))
        #expect(
            named.allSatisfy { customer in
                customer["customer_id"] == .string("c0")
                    || customer["service_ids"]
                        == customer["customer_id"].flatMap { id -> JSONValue? in
                            if case .string(let text) = id { .array([.string("s" + text.dropFirst())]) } else { nil }
                        }
            })

        func part(_ customers: [(String, [String])]) -> String {
            let items = customers.map { customer, services in
                let ids = services.map { #""\#($0)""# }.joined(separator: ",")
                return #"{"customer_id":"\#(customer)","service_ids":[\#(ids)]}"#
            }
            return #"{"run_id":"r","as_of":"2025-02-01","customers":2,"part":[\#(items.joined(separator: ","))]}"#
        }
        let before = try await provisioning.store.document(kind: "service", key: "acme/s2")
        let run = BillingRunPart.type
        // Another customer's service, another tenant's, a service or customer twice: the whole part
        // is refused, its good customers too.
        #expect(try await provisioning.code(run, part([("c2", ["s2"]), ("c1", ["s1", "s3"])])) == .unknownService)
        #expect(try await provisioning.code(run, part([("c2", ["s2"]), ("c0", ["s0", "r-1"])])) == .unknownService)
        #expect(try await provisioning.code(run, part([("c2", ["s2", "s2"])])) == .invalidMessage)
        #expect(try await provisioning.code(run, part([("c2", ["s2"]), ("c2", ["s2"])])) == .invalidMessage)
        #expect(try await provisioning.store.document(kind: "service", key: "acme/s2") == before)

        // A good part: each customer's period closed, with their services at their new revision.
        let closed = try await provisioning.send(run, part([("c0", ["s0", "s-extra"]), ("c2", ["s2"])])).get()
        #expect(closed.map(\.type) == ["billing.period_closed", "billing.period_closed"])
        #expect(closed.map { $0.data["customer_id"] } == [.string("c0"), .string("c2")])
        guard case .array(let services)? = closed.first?.data["services"] else {
            Issue.record("no services")
            return
        }
        #expect(services.map { $0["service_id"] } == [.string("s0"), .string("s-extra")])
        #expect(services.map { $0["revision"] } == [.number("2"), .number("2")])
        #expect(closed.allSatisfy { $0.data["customers"] == .number("2") && $0.data["run_id"] == .string("r") })
        #expect(try await provisioning.store.document(kind: "service", key: "acme/s2") != before)
    }

    @Test("Plan change: the old contract ends, the new one keeps the terms; then cancellation with its fee")
    func lifecycle() async throws {
        let provisioning = try await Provisioning()
        _ = try await provisioning.send("tenant.upsert", Provisioning.tenant)
        _ = try await provisioning.send("plan.upsert", Provisioning.plan)
        _ = try await provisioning.send("plan.upsert", Provisioning.premium)
        _ = try await provisioning.send(
            "service.provision", Provisioning.provision(contract: Provisioning.workedExample))
        let changed = try await provisioning.send(
            "service.change_plan", #"{"service_id":"vm-1","plan_id":"vm-premium","effective_date":"2025-02-15"}"#
        ).get()
        #expect(changed.map(\.type) == ["contract.plan_changed"])
        #expect(
            changed[0].data["old_contract_id"] == .string("vm-1-1")
                && changed[0].data["new_contract_id"] == .string("vm-1-2"))
        let new = try ContractEncoding.decodeContract(try #require(changed[0].data["new_contract"]))
        #expect(new.monthlyFee.decimalText == "2000.00" && new.terms.discountPercent == Rational(10))
        #expect(new.start == CalendarDate(year: 2025, month: 2, day: 15)! && new.terms.earlyTermination == .remainder)

        // Cancelling the new contract on 2025-09-01 (deadline 2025-08-15 passed): remainder of
        // 2000.00/month less 10 % from 1 Sep 2025 to 15 Feb 2026: 5 × 2000 + 14/28 × 2000 = 11000,
        // less 10 % = 9900.00.
        let cancelled = try await provisioning.send(
            "service.cancel", #"{"service_id":"vm-1","effective_date":"2025-09-01"}"#
        ).get()
        #expect(cancelled.map(\.type) == ["contract.cancelled"])
        #expect(cancelled[0].data["early_termination_fee"] == .string("9900.00"))
        #expect(
            try await provisioning.code("service.cancel", #"{"service_id":"vm-1","effective_date":"2025-10-01"}"#)
                == .invalidMessage)
    }
}
