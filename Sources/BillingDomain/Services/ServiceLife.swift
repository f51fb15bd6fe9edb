/// The days a service runs, for usage: from its start to the day it ends (a PAYG
/// cancellation's effective date), excluded. Usage dated outside them belongs to no service and
/// is rejected, since invoicing could price it on no plan. A bound not known (a service stored
/// before rating kept its start) does not limit.
public struct ServiceLife: Sendable, Hashable {
    public var serviceId: String
    public var start: CalendarDate?
    public var end: CalendarDate?

    public init(serviceId: String, start: CalendarDate?, end: CalendarDate?) {
        self.serviceId = serviceId
        self.start = start
        self.end = end
    }

    /// Why usage dated `day` belongs to no service (`unknown_service`), or nil when it does.
    public func problem(usageOn day: CalendarDate) -> Rejection? {
        if let start, day < start {
            return Rejection(.unknownService, "service \(serviceId) starts on \(start): no usage on \(day)")
        }
        if let end, day >= end {
            return Rejection(.unknownService, "service \(serviceId) ended on \(end): no usage on \(day)")
        }
        return nil
    }
}
