import AMQPClient
import CovenantMessages
import Foundation
import Glibc
import TestSupport
import Testing
import WorkerRuntime

extension ProvisioningProcessTests {
    @Test(
        "Through the broker: every rejection code of the spec from a command breaking its rule; repeats change nothing")
    func rejectionsAndRepeats() async throws {
        let url = try #require(ProcessInfo.processInfo.environment["AMQP_URL"], "AMQP_URL is not set")
        let configuration = try AMQPConfiguration(url: url, connectionName: "rejections-test")
        let prefix = "t-\(UUID().uuidString.prefix(8))"
        let (acme, closed, unlicensed) = ("\(prefix)-acme", "\(prefix)-closed", "\(prefix)-unlicensed")
        let integrator = Integrator(
            configuration, tenants: [acme, closed, unlicensed, "\(prefix)-nobody", CloudEvent.clusterTenant])
        let data = NSTemporaryDirectory() + "covenant-\(UUID().uuidString)"
        let roles = ["provisioning", "rating", "invoicing", "commitments"]
        let workers = ChildGroup()
        for role in roles {
            workers.add(try launch("covenant-\(role)", ["COVENANT_AMQP_URL": url, "COVENANT_DATA_DIR": data]))
        }
        let deadline = ContinuousClock.now + .seconds(90)
        try await waitForWorkers(roles.map { "covenant.\($0)" }, configuration, until: deadline)
        let publisher = AMQPPublisher(
            configuration: configuration, topology: AMQPTopology(exchanges: Topology.exchanges))
        var sequence = 0
        /// Publishes each command twice with the same id (a redelivery, or an upstream retry).
        func twice(_ commands: [(tenant: String, type: String, data: String)]) async throws {
            let messages = commands.map { item in
                sequence += 1
                return command(item.type, item.data, id: "\(prefix)-\(sequence)", tenant: item.tenant)
            }
            _ = try await publisher.publish(messages + messages)
        }
        func settle(_ type: String, count: Int) async throws {
            try await integrator.waitFor(type, count: count, until: deadline)
            try #require(integrator.events.count(of: type) >= count, "no \(count) \(type) in time")
        }
        let license = #""platform_license":{"kind":"virtual","status":"active"}"#
        try await twice([
            (acme, "tenant.upsert", #"{"name":"Acme",\#(license),"service_contracts_enabled":true}"#),
            (closed, "tenant.upsert", #"{"name":"No contracts",\#(license),"service_contracts_enabled":false}"#),
            (
                unlicensed, "tenant.upsert",
                #"{"name":"No license","platform_license":{"kind":"virtual","status":"inactive"},"service_contracts_enabled":true}"#
            ),
        ])
        try await settle("tenant.updated", count: 3)
        let plan = #"{"plan_id":"vm","name":"VM","currency":"INR","monthly_fee":"1000.00","service_type":"vm"}"#
        try await twice([(acme, "plan.upsert", plan), (closed, "plan.upsert", plan), (unlicensed, "plan.upsert", plan)])
        try await settle("plan.updated", count: 3)
        try await twice([
            (
                acme, "service.provision",
                #"{"customer_id":"cust-1","service_id":"vm-1","plan_id":"vm","start_date":"2025-01-15","billing_model":"fixed_term","payment_mode":"postpaid","contract":{"term_months":12,"monthly_fee":"1000.00","discount_percent":"10","cancellation_deadline_months":6}}"#
            ),
            (
                acme, "service.provision",
                #"{"customer_id":"cust-1","service_id":"sim-1","plan_id":"vm","start_date":"2025-01-01","billing_model":"payg","payment_mode":"postpaid"}"#
            ),
        ])
        try await settle("service.activated", count: 2)
        try await twice([
            (
                acme, "usage.record",
                #"{"customer_id":"cust-1","service_id":"sim-1","metric":"gb","quantity":"5","timestamp":"2025-01-20T10:00:00Z"}"#
            )
        ])
        try await settle("usage.rated", count: 1)
        try await twice([(acme, "billing.run", #"{"as_of":"2025-03-01"}"#)])
        try await settle("billing.run.completed", count: 1)

        // One command per rule, each breaking it.
        let fixedTerm = { (service: String, contract: String) in
            #"{"customer_id":"cust-1","service_id":"\#(service)","plan_id":"vm","start_date":"2025-01-15","billing_model":"fixed_term","payment_mode":"postpaid","contract":\#(contract)}"#
        }
        let broken: [(code: String, tenant: String, type: String, data: String)] = [
            ("unknown_tenant", "\(prefix)-nobody", "plan.upsert", plan),
            (
                "unknown_plan", acme, "service.provision",
                #"{"customer_id":"cust-1","service_id":"x-1","plan_id":"nope","start_date":"2025-01-01","billing_model":"payg","payment_mode":"postpaid"}"#
            ),
            ("unknown_service", acme, "service.cancel", #"{"service_id":"ghost","effective_date":"2025-08-01"}"#),
            ("duplicate_service", acme, "service.provision", fixedTerm("vm-1", #"{"term_months":12}"#)),
            ("contracts_disabled", closed, "service.provision", fixedTerm("vm-2", #"{"term_months":12}"#)),
            ("platform_license_required", unlicensed, "service.provision", fixedTerm("vm-3", #"{"term_months":12}"#)),
            (
                "prepaid_not_supported", acme, "service.provision",
                #"{"customer_id":"cust-1","service_id":"vm-4","plan_id":"vm","start_date":"2025-01-15","billing_model":"fixed_term","payment_mode":"prepaid","contract":{"term_months":12}}"#
            ),
            ("unsupported_term", acme, "service.provision", fixedTerm("vm-5", #"{"term_months":5}"#)),
            (
                "invalid_commitment", acme, "service.provision",
                fixedTerm(
                    "vm-6",
                    #"{"term_months":12,"commitments":[{"id":"sms","type":"usage","metric":"sms","frequency_months":1,"ramp":[{"from_window":1,"amount":"100"}],"penalty":{"kind":"charge"}}]}"#
                )
            ),
            ("cancellation_blocked", acme, "service.cancel", #"{"service_id":"vm-1","effective_date":"2025-04-01"}"#),
            (
                "invalid_quantity", acme, "usage.record",
                #"{"customer_id":"cust-1","service_id":"sim-1","metric":"gb","quantity":"-1","timestamp":"2025-03-20T10:00:00Z"}"#
            ),
            (
                "period_already_invoiced", acme, "service.change_plan",
                #"{"service_id":"vm-1","plan_id":"vm","effective_date":"2025-02-10"}"#
            ),
            // Tenant isolation: another tenant's usage naming acme's service.
            (
                "unknown_service", closed, "usage.record",
                #"{"customer_id":"cust-1","service_id":"sim-1","metric":"gb","quantity":"7","timestamp":"2025-03-20T10:00:00Z"}"#
            ),
            ("invalid_message", acme, "billing.run", #"{"as_of":"2025-02-30"}"#),
        ]
        var ids: [String: String] = [:]
        var messages: [OutgoingMessage] = []
        for item in broken {
            sequence += 1
            let id = "\(prefix)-\(sequence)"
            ids[id] = item.code
            messages.append(command(item.type, item.data, id: id, tenant: item.tenant))
        }
        // An envelope whose type no worker handles, on a routing key a worker is bound to: a type
        // that is not its routing key is invalid_message, before any handler sees it. On its own
        // routing key, which no queue binds, the alternate exchange brings it to provisioning:
        // unknown_type. So does an internal message's type sent as a command.
        sequence += 1
        let unknownType = "\(prefix)-\(sequence)"
        ids[unknownType] = "invalid_message"
        let suspend = CloudEvent(
            id: unknownType, source: "tests", type: "service.suspend", time: "2025-01-15T09:30:00Z", tenantId: acme,
            data: .object(["service_id": .string("vm-1")]))
        messages.append(
            OutgoingMessage(
                AMQPMessage(
                    body: suspend.encoded(), messageId: unknownType, contentType: CloudEvent.contentType,
                    type: "service.suspend"),
                exchange: Topology.commandsExchange, routingKey: "service.cancel"))
        for type in ["service.suspend", BillingRunPart.type] {
            sequence += 1
            let id = "\(prefix)-\(sequence)"
            ids[id] = "unknown_type"
            messages.append(command(type, #"{"service_id":"vm-1"}"#, id: id, tenant: acme))
        }
        // A body that is not JSON at all: the rejection names the AMQP message id.
        sequence += 1
        let garbage = "\(prefix)-\(sequence)"
        ids[garbage] = "invalid_message"
        messages.append(
            OutgoingMessage(
                AMQPMessage(body: [0xff, 0x00, 0x13], messageId: garbage, contentType: CloudEvent.contentType),
                exchange: Topology.commandsExchange, routingKey: "usage.record"))
        _ = try await publisher.publish(messages)
        try await integrator.waitForRejections(of: Set(ids.keys), until: deadline)
        var codes: [String: String] = [:]
        for event in integrator.events.of("command.rejected") {
            guard case .string(let id) = event.data["command_id"], ids[id] != nil,
                case .string(let code) = event.data["code"]
            else { continue }
            codes[id] = code
        }
        #expect(codes == ids)
        #expect(
            Set(ids.values)
                == [
                    "invalid_message", "unknown_tenant", "unknown_plan", "unknown_service",
                    "duplicate_service", "contracts_disabled", "platform_license_required", "prepaid_not_supported",
                    "unsupported_term", "invalid_commitment", "cancellation_blocked", "invalid_quantity",
                    "period_already_invoiced", "unknown_type",
                ])

        // A repeated run (a new id, the same date) issues nothing new; then the next month's.
        try await twice([(acme, "billing.run", #"{"as_of":"2025-03-01"}"#)])
        try await settle("billing.run.completed", count: 2)
        try await twice([(acme, "billing.run", #"{"as_of":"2025-04-01"}"#)])
        try await settle("billing.run.completed", count: 3)
        // A plan change and a PAYG cancellation, each sent twice too.
        try await twice([
            (acme, "service.change_plan", #"{"service_id":"vm-1","plan_id":"vm","effective_date":"2025-04-15"}"#),
            (acme, "service.cancel", #"{"service_id":"sim-1","effective_date":"2025-04-20"}"#),
        ])
        try await settle("billing.run.completed", count: 4)
        try await settle("service.cancelled", count: 1)
        // Every command went twice; each had its effect once. The rejected ones changed nothing:
        // March is billed as if they had never been sent.
        let counts = [
            "tenant.updated": 3, "plan.updated": 3, "service.activated": 2, "contract.activated": 1, "usage.rated": 1,
            "billing.run.completed": 4, "contract.cancelled": 0, "contract.plan_changed": 1, "service.cancelled": 1,
        ]
        for (type, count) in counts { #expect(integrator.events.count(of: type) == count, "\(type)") }
        let invoices = integrator.events.of("invoice.ready").map { event -> String in
            if case .string(let id) = event.data["invoice_id"], case .string(let total) = event.data["total"] {
                return "\(id) \(total)"
            }
            return "?"
        }
        // Jan 15–31 and February less 10 % (493.55 + 900.00) with 5 GB unpriced; then March.
        // The plan change's invoice: 1–14 April, 14/30 of 1000.00 less 10 %.
        #expect(
            invoices.sorted() == [
                "INV-cust-1-20250301-INR 1393.55", "INV-cust-1-20250401-INR 900.00", "INV-cust-1-20250415-INR 420.00",
            ])
        for status in await workers.stop() { #expect(status == 0) }
        await integrator.stop()
        await publisher.close()
    }
}
