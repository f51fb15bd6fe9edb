public import BillingDomain

/// What invoicing and the commitments worker pass each other about commitments: service spans
/// and counted lines, every figure exact.
public enum CommitmentCoding {
    public static func span(_ span: CommitmentLedger.ServiceSpan) -> JSONValue {
        .object([
            "plan_id": .string(span.planId), "service_type": .string(span.serviceType),
            "start": .string(span.period.start.description), "end": .string(span.period.end.description),
        ])
    }

    public static func decodeSpan(_ item: Fields) throws(Rejection) -> CommitmentLedger.ServiceSpan {
        CommitmentLedger.ServiceSpan(
            planId: try item.string("plan_id"), serviceType: try item.string("service_type"),
            period: BillingPeriod(start: try item.date("start"), end: try item.date("end")))
    }

    /// `{service_id: [span]}`.
    public static func spans(_ spans: [String: [CommitmentLedger.ServiceSpan]]) -> JSONValue {
        .object(JSONObject(spans.mapValues { .array($0.map(span)) }))
    }

    public static func decodeSpans(_ fields: Fields) throws(Rejection) -> [String: [CommitmentLedger.ServiceSpan]] {
        var spans: [String: [CommitmentLedger.ServiceSpan]] = [:]
        for id in fields.members.keys {
            spans[id] = try fields.objects(id).map { item throws(Rejection) in try decodeSpan(item) }
        }
        return spans
    }

    public static func counted(_ line: CommitmentLedger.CountedLine) -> JSONValue {
        .object([
            "start": .string(line.period.start.description), "end": .string(line.period.end.description),
            "amount": .money(line.amount), "currency": .string(line.amount.currency.code),
        ])
    }

    public static func decodeCounted(_ item: Fields) throws(Rejection) -> CommitmentLedger.CountedLine {
        CommitmentLedger.CountedLine(
            period: BillingPeriod(start: try item.date("start"), end: try item.date("end")),
            amount: try item.money("amount", in: try item.currency("currency")))
    }
}
