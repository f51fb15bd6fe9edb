import BillingDomain
import CovenantMessages
import WorkerStores

extension ProvisioningHandler {
    /// Today in the tenant's zone, by the handler's clock.
    func today(_ tenant: Tenant) throws -> CalendarDate {
        let time = now()
        guard let instant = RFC3339.instant(time) else {
            throw StoreError(.inconsistent, "the clock's time \(time) is unreadable")
        }
        return tenant.timeZone.date(of: instant)
    }

    /// `date_out_of_range` unless `date`, named by `field`, lies in the tenant's window today.
    func checkWindow(_ date: CalendarDate, _ field: String, _ tenant: Tenant) throws {
        if let rejection = dateWindow.problem(date, field: field, today: try today(tenant)) { throw rejection }
    }

    /// `date_out_of_range` for a run dated more than a day after the tenant's today.
    func checkRunDate(_ asOf: CalendarDate, _ tenant: Tenant) throws {
        if let rejection = DateWindow.runProblem(asOf: asOf, today: try today(tenant)) { throw rejection }
    }
}
