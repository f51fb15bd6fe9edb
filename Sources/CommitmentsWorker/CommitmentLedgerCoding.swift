import BillingDomain
import CovenantMessages

/// A customer's commitment ledger as the commitments worker keeps it: JSON, figures exact.
enum CommitmentLedgerCoding {
    static func encode(_ ledger: CommitmentLedger) -> JSONValue {
        .object([
            "customer_id": .string(ledger.customerId),
            "contracts": .array(ledger.contracts.values.sorted { $0.id < $1.id }.map(ContractEncoding.contract)),
            "services": CommitmentCoding.spans(ledger.services),
            "usage": .array(
                ledger.usage.sorted {
                    ($0.key.serviceId, $0.key.metric, $0.key.date) < ($1.key.serviceId, $1.key.metric, $1.key.date)
                }
                .map { day, quantity in
                    .object([
                        "service_id": .string(day.serviceId), "metric": .string(day.metric),
                        "date": .string(day.date.description), "quantity": .string(quantity.exactText),
                    ])
                }),
            "lines": .array(ledger.lines.map(CommitmentCoding.counted)),
            "evaluated": .array(
                ledger.evaluated.sorted {
                    ($0.contractId, $0.commitmentId, $0.window) < ($1.contractId, $1.commitmentId, $1.window)
                }
                .map { key in
                    .object([
                        "contract_id": .string(key.contractId), "commitment_id": .string(key.commitmentId),
                        "window": .number(String(key.window)),
                    ])
                }),
        ])
    }

    static func decode(_ json: JSONValue) throws(Rejection) -> CommitmentLedger {
        let fields = try Fields(json, path: "ledger")
        var contracts: [Contract] = []
        for item in try fields.array("contracts") { contracts.append(try ContractEncoding.decodeContract(item)) }
        var usage: [CommitmentLedger.UsageDay: Rational] = [:]
        for item in try fields.objects("usage") {
            guard let quantity = Rational(exactText: try item.string("quantity")) else {
                throw Rejection(.invalidMessage, "\(item.path).quantity is not exact")
            }
            usage[
                .init(
                    serviceId: try item.string("service_id"), metric: try item.string("metric"),
                    date: try item.date("date"))
            ] = quantity
        }
        var evaluated: Set<CommitmentLedger.WindowKey> = []
        for item in try fields.objects("evaluated") {
            evaluated.insert(
                .init(
                    contractId: try item.string("contract_id"), commitmentId: try item.string("commitment_id"),
                    window: try item.int("window", in: 1...10_000)))
        }
        return CommitmentLedger(
            customerId: try fields.string("customer_id"), contracts: contracts,
            services: try CommitmentCoding.decodeSpans(try fields.object("services")), usage: usage,
            lines: try fields.objects("lines").map { item throws(Rejection) in try CommitmentCoding.decodeCounted(item)
            },
            evaluated: evaluated)
    }
}
