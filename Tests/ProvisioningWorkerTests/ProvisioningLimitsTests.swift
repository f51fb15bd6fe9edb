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
}
