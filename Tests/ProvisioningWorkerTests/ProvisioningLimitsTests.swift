import BillingDomain
import CovenantMessages
import Testing

/// The issue's attacks on provisioning, tried as commands: each a rejection that changes
/// nothing, none a crash or a runaway transaction.
@Suite("Provisioning's limits")
struct ProvisioningLimitsTests {
    static let payg =
        #"{"customer_id":"cust-1","service_id":"sim-1","plan_id":"vm-standard","start_date":"START","billing_model":"payg","payment_mode":"postpaid"}"#

    @Test("Runs at most a day ahead and dates within ten years of today: date_out_of_range")
    func dateWindow() async throws {
        // 12:00 UTC on 2025-03-10; the tenant's zone is UTC.
        let provisioning = try await Provisioning(now: "2025-03-10T12:00:00Z")
        _ = try await provisioning.send("tenant.upsert", Provisioning.tenant)
        _ = try await provisioning.send("plan.upsert", Provisioning.plan)
        func provision(_ start: String, _ service: String) async throws -> RejectionCode? {
            try await provisioning.code(
                "service.provision",
                Self.payg.replacingOccurrences(of: "START", with: start).replacingOccurrences(
                    of: "sim-1", with: service))
        }
        #expect(try await provision("2015-03-09", "sim-1") == .dateOutOfRange)
        #expect(try await provision("2035-03-11", "sim-1") == .dateOutOfRange)
        #expect(try await provision("2015-03-10", "sim-1") == nil)
        #expect(
            try await provisioning.code("service.cancel", #"{"service_id":"sim-1","effective_date":"2035-03-11"}"#)
                == .dateOutOfRange)
        // The issue's run as of 9999-12-01, and a part of a run forged with the same date.
        #expect(try await provisioning.code("billing.run", #"{"as_of":"9999-12-01"}"#) == .dateOutOfRange)
        #expect(try await provisioning.code("billing.run", #"{"as_of":"2025-03-12"}"#) == .dateOutOfRange)
        let part =
            #"{"run_id":"r","as_of":"9999-12-01","customers":1,"part":[{"customer_id":"cust-1","service_ids":["sim-1"]}]}"#
        #expect(try await provisioning.code("billing.run.part", part) == .dateOutOfRange)
        #expect(try await provisioning.send("billing.run", #"{"as_of":"2025-03-11"}"#).get().count == 1)
    }

    @Test("A cancellation whose fee would overflow is rejected; the contract stays as it was")
    func cancellationOverflow() async throws {
        let provisioning = try await Provisioning()
        _ = try await provisioning.send("tenant.upsert", Provisioning.tenant)
        _ = try await provisioning.send("plan.upsert", Provisioning.plan)
        let commitments = [1, 2, 3, 5, 7, 11, 13, 17, 19, 23, 29, 31, 37].map { frequency in
            #"{"id":"c\#(frequency)","type":"invoice_amount","frequency_months":\#(frequency),"ramp":[{"from_window":1,"amount":"999999999999.9999"}],"penalty":{"kind":"charge"}}"#
        }
        let contract =
            #"{"term_months":60,"early_termination":{"kind":"percent_of_remaining_commitments","percent":"100"},"commitments":[\#(commitments.joined(separator: ","))]}"#
        #expect(
            try await provisioning.send("service.provision", Provisioning.provision(contract: contract)).get().count
                == 2)
        let cancel = #"{"service_id":"vm-1","effective_date":"2025-03-10"}"#
        guard case .failure(let rejection) = try await provisioning.send("service.cancel", cancel) else {
            Issue.record("the cancellation was accepted")
            return
        }
        #expect(rejection.code == .invalidMessage && rejection.details["reason"] == "arithmetic_overflow")
        // Nothing changed: a cancellation the fee allows still takes effect afterwards.
        #expect(
            try await provisioning.code("service.cancel", #"{"service_id":"vm-1","effective_date":"2030-01-15"}"#)
                == nil)
    }

    @Test("A customer has at most 100 services and a plan at most 100 usage prices: they bound an invoice's lines")
    func invoiceLines() async throws {
        let provisioning = try await Provisioning(now: "2025-03-10T12:00:00Z")
        _ = try await provisioning.send("tenant.upsert", Provisioning.tenant)
        _ = try await provisioning.send("plan.upsert", Provisioning.plan)
        func provision(_ service: String, customer: String = "cust-1") async throws -> RejectionCode? {
            try await provisioning.code(
                "service.provision",
                Self.payg.replacingOccurrences(of: "START", with: "2025-03-01").replacingOccurrences(
                    of: "sim-1", with: service
                ).replacingOccurrences(of: "cust-1", with: customer))
        }
        for index in 1...InputLimits.servicesPerCustomer {
            #expect(try await provision("sim-\(index)") == nil)
        }
        #expect(try await provision("sim-101") == .invalidMessage)
        #expect(try await provision("sim-101", customer: "cust-2") == nil)
        let service = try await provisioning.store.document(kind: "service", key: "acme/sim-101")
        #expect(service.flatMap { JSONValue.parse($0.body)?["customer_id"] } == .string("cust-2"))

        func plan(prices: Int) -> String {
            let items = (0..<prices).map { #"{"metric":"m\#($0)","model":"per_unit","unit_price":"0.01"}"# }
            return
                #"{"plan_id":"many","name":"Many","currency":"INR","monthly_fee":"0","service_type":"sim","usage_prices":[\#(items.joined(separator: ","))]}"#
        }
        #expect(try await provisioning.code("plan.upsert", plan(prices: InputLimits.usagePricesPerPlan)) == nil)
        #expect(
            try await provisioning.code("plan.upsert", plan(prices: InputLimits.usagePricesPerPlan + 1))
                == .invalidMessage)
    }
}
