public import BillingDomain

/// A message one of Covenant's workers sends another: a struct whose producer encodes it with
/// ``data`` and whose consumer decodes it with ``init(_:)``, the same code on both sides, under
/// the one ``type`` it is published as. A message that does not decode is the incoming
/// message's fault: a rejection naming the field.
public protocol WorkerMessage: Sendable, Hashable {
    /// Its CloudEvents `type` and routing key.
    static var type: String { get }
    /// Its CloudEvent's `data`.
    var data: JSONValue { get }
    init(_ data: Fields) throws(Rejection)
}

extension WorkerMessage {
    /// The message an event's `data` carries.
    public init(decoding event: CloudEvent) throws(Rejection) {
        try self.init(Fields(event.data, path: "data"))
    }
}

/// `usage.rated` (rating → invoicing, commitments): usage records rated, one tenant's, in the
/// order rated.
public struct UsageRated: WorkerMessage {
    public static let type = "usage.rated"

    public struct Record: Sendable, Hashable {
        /// The command (`usage.record`) that brought it.
        public var usageId: String
        public var customerId: String
        public var serviceId: String
        /// The plan rating rated it on, and that plan's billing model, as rating knew them.
        public var planId: String?
        public var billingModel: BillingModel?
        public var metric: String
        public var quantity: Rational
        public var date: CalendarDate
        /// Dated in a month already invoiced.
        public var late: Bool

        public init(
            usageId: String, customerId: String, serviceId: String, planId: String?, billingModel: BillingModel?,
            metric: String, quantity: Rational, date: CalendarDate, late: Bool
        ) {
            self.usageId = usageId
            self.customerId = customerId
            self.serviceId = serviceId
            self.planId = planId
            self.billingModel = billingModel
            self.metric = metric
            self.quantity = quantity
            self.date = date
            self.late = late
        }

        /// In key order, so the object takes its members as they are (no sort).
        public var data: JSONValue {
            .object([
                "billing_model": billingModel.map { .string($0.rawValue) } ?? .null,
                "customer_id": .string(customerId), "date": .string(date.description), "late": .bool(late),
                "metric": .string(metric), "month": .string(String(date.startOfMonth.description.prefix(7))),
                "plan_id": planId.map(JSONValue.string) ?? .null, "quantity": .string(EventPayloads.figure(quantity)),
                "service_id": .string(serviceId), "usage_id": .string(usageId),
            ])
        }

        init(_ fields: Fields) throws(Rejection) {
            usageId = try fields.string("usage_id")
            customerId = try fields.string("customer_id")
            serviceId = try fields.string("service_id")
            planId = try fields.optionalString("plan_id")
            billingModel = fields.has("billing_model") ? try fields.choice("billing_model", of: BillingModel.self) : nil
            metric = try fields.string("metric")
            quantity = try fields.decimal("quantity")
            date = try fields.date("date")
            late = fields.has("late") ? try fields.bool("late") : false
        }
    }

    public var records: [Record]

    public init(records: [Record]) { self.records = records }

    public var data: JSONValue { .object(["records": .array(records.map(\.data))]) }

    public init(_ data: Fields) throws(Rejection) {
        records = try data.objects("records").map { item throws(Rejection) in try Record(item) }
    }
}

/// `billing.run.part` (provisioning → provisioning): the customers of one part of a billing
/// run, each with the services to close.
public struct BillingRunPart: WorkerMessage {
    public static let type = "billing.run.part"

    public struct Customer: Sendable, Hashable {
        public var customerId: String
        public var serviceIds: [String]

        public init(customerId: String, serviceIds: [String]) {
            self.customerId = customerId
            self.serviceIds = serviceIds
        }
    }

    public var runId: String
    public var asOf: CalendarDate
    /// The run's customers in all its parts.
    public var customers: Int
    public var part: [Customer]

    public init(runId: String, asOf: CalendarDate, customers: Int, part: [Customer]) {
        self.runId = runId
        self.asOf = asOf
        self.customers = customers
        self.part = part
    }

    public var data: JSONValue {
        .object([
            "run_id": .string(runId), "as_of": .string(asOf.description), "customers": .number(String(customers)),
            "part": .array(
                part.map {
                    .object([
                        "customer_id": .string($0.customerId),
                        "service_ids": .array($0.serviceIds.map(JSONValue.string)),
                    ])
                }),
        ])
    }

    public init(_ data: Fields) throws(Rejection) {
        runId = try data.string("run_id")
        asOf = try data.date("as_of")
        customers = try data.int("customers", in: 1...Int(Int32.max))
        part = try data.objects("part").map { customer throws(Rejection) in
            Customer(customerId: try customer.string("customer_id"), serviceIds: try customer.strings("service_ids"))
        }
    }
}
