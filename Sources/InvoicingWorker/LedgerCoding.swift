import BillingDomain
import CovenantMessages

/// A customer's ledger as invoicing keeps it: JSON, amounts as exact decimal text.
enum LedgerCoding {
    static func encode(_ ledger: CustomerLedger) -> JSONValue {
        let snapshot = ledger.snapshot
        var fields: JSONObject = [
            "customer_id": .string(snapshot.customerId),
            "contracts": .array(
                snapshot.contracts.map {
                    .object([
                        "contract": ContractEncoding.contract($0.contract),
                        "billed_through": .string($0.billedThrough.description),
                    ])
                }),
            "usage": .array(
                snapshot.usage.sorted { $0.key < $1.key }.map { key, month in
                    var item: JSONObject = [
                        "service_id": .string(key.serviceId), "metric": .string(key.metric),
                        "month": .string(key.month.description), "price": PriceEncoding.usagePrice(month.price),
                        "currency": .string(month.currency.code), "quantity": decimal(month.quantity),
                    ]
                    if let billed = month.billedQuantity { item["billed_quantity"] = decimal(billed) }
                    if let amount = month.billedAmount { item["billed_amount"] = .money(amount) }
                    return .object(item)
                }),
            "pending_fees": .array(
                snapshot.pendingFees.map {
                    .object([
                        "contract_id": .string($0.contractId), "service_id": .string($0.serviceId),
                        "start": .string($0.period.start.description), "end": .string($0.period.end.description),
                        "amount": .money($0.amount), "currency": .string($0.amount.currency.code),
                    ])
                }),
            "issued": .array(
                snapshot.issued.map {
                    .object([
                        "currency": .string($0.currency.code), "date": .string($0.date.description),
                        "count": .number(String($0.count)),
                    ])
                }),
        ]
        if let covered = snapshot.coveredThrough { fields["covered_through"] = .string(covered.description) }
        return .object(fields)
    }

    static func decimal(_ value: Rational) -> JSONValue { .string(value.exactDecimalText ?? "\(value)") }

    static func decode(_ json: JSONValue) throws(Rejection) -> CustomerLedger {
        let fields = try Fields(json, path: "ledger")
        func currency(_ item: Fields) throws(Rejection) -> Currency { try item.currency("currency") }
        func money(_ item: Fields, _ field: String, _ currency: Currency) throws(Rejection) -> Money {
            try item.money(field, in: currency)
        }
        var contracts: [CustomerLedger.ContractAccount] = []
        for item in try fields.objects("contracts") {
            contracts.append(
                .init(
                    contract: try ContractEncoding.decodeContract(item.members["contract"] ?? .null),
                    billedThrough: try item.date("billed_through")))
        }
        var usage: [UsageMonth.Key: UsageMonth] = [:]
        for item in try fields.objects("usage") {
            let unit = try currency(item)
            let key = UsageMonth.Key(
                serviceId: try item.string("service_id"), metric: try item.string("metric"),
                month: try item.date("month"))
            usage[key] = UsageMonth(
                price: try PriceEncoding.decodeUsagePrice(item.members["price"] ?? .null), currency: unit,
                quantity: try item.decimal("quantity"), billedQuantity: try item.optionalDecimal("billed_quantity"),
                billedAmount: item.has("billed_amount") ? try money(item, "billed_amount", unit) : nil)
        }
        var fees: [EarlyTerminationFee] = []
        for item in try fields.objects("pending_fees") {
            fees.append(
                EarlyTerminationFee(
                    contractId: try item.string("contract_id"), serviceId: try item.string("service_id"),
                    period: BillingPeriod(start: try item.date("start"), end: try item.date("end")),
                    amount: try money(item, "amount", try currency(item))))
        }
        var issued: [CustomerLedger.IssuedCount] = []
        for item in try fields.objects("issued") {
            issued.append(
                .init(
                    currency: try currency(item), date: try item.date("date"),
                    count: try item.int("count", in: 1...1000)))
        }
        return CustomerLedger(
            snapshot: .init(
                customerId: try fields.string("customer_id"), contracts: contracts, usage: usage, pendingFees: fees,
                coveredThrough: fields.has("covered_through") ? try fields.date("covered_through") : nil, issued: issued
            ))
    }
}
