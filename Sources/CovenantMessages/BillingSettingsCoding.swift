public import BillingDomain

/// A tenant's invoicing settings as `tenant.upsert` and `tenant.configure` send them and
/// `tenant.updated` carries them: `invoice_profile`, `payment_terms_days`, `reminder_days` and
/// `taxes`. Both commands replace the settings they send and keep the others; one sent as `null`
/// returns to its default.
public enum BillingSettingsCoding {
    public static let keys = ["invoice_profile", "payment_terms_days", "reminder_days", "taxes"]

    /// The settings a tenant's stored document (or a `tenant.updated`) holds; the defaults for
    /// those it does not.
    public static func settings(_ data: Fields) throws(Rejection) -> TenantBillingSettings {
        var settings = TenantBillingSettings()
        if let profile = try data.optionalObject("invoice_profile") { settings.profile = try Self.profile(profile) }
        if let days = try data.optionalInt("payment_terms_days", in: 0...365) { settings.paymentTermsDays = days }
        if data.has("reminder_days") {
            var days: [Int] = []
            for (index, item) in try data.array("reminder_days").enumerated() {
                guard case .number(let text) = item, let day = Int(text), (1...365).contains(day) else {
                    throw Rejection(.invalidMessage, "data.reminder_days[\(index)] must be a number of days 1–365")
                }
                days.append(day)
            }
            guard days.count <= 10 else { throw Rejection(.invalidMessage, "data.reminder_days has more than 10 days") }
            settings.reminderDays = Array(Set(days)).sorted()
        }
        if data.has("taxes") { settings.taxes = try taxes(data.objects("taxes")) }
        return settings
    }

    /// The stored settings `stored` with those `sent` applied: a key sent replaces, `null`
    /// removes (its default again), a key not sent is kept. `sent` is checked first.
    public static func merged(_ stored: JSONObject, with sent: Fields) throws(Rejection) -> JSONObject {
        var merged = stored
        for key in keys {
            guard let value = sent.members[key] else { continue }
            merged[key] = value == .null ? nil : value
        }
        _ = try settings(Fields(.object(merged), path: sent.path))
        return merged
    }

    static func profile(_ fields: Fields) throws(Rejection) -> InvoiceProfile {
        var profile = InvoiceProfile(
            legalName: try fields.optionalString("legal_name"), taxId: try fields.optionalString("tax_id"),
            email: try fields.optionalString("email"), footer: try fields.optionalString("footer"))
        if let address = try fields.optionalObject("address") { profile.address = try Self.address(address) }
        if fields.has("logo") {
            guard case .string(let logo) = fields.members["logo"], InvoiceProfile.isLogo(logo) else {
                throw Rejection(
                    .invalidMessage,
                    "\(fields.path).logo must be a data: URI of a PNG or SVG image of at most "
                        + "\(InvoiceProfile.maximumLogoBytes / 1024) KiB")
            }
            profile.logo = logo
        }
        if let colour = try fields.optionalString("accent_color") {
            guard InvoiceProfile.isAccentColor(colour) else {
                throw Rejection(.invalidMessage, "\(fields.path).accent_color must be #RRGGBB")
            }
            profile.accentColor = colour
        }
        for (key, path) in [
            ("number_prefix", \InvoiceProfile.numberPrefix), ("credit_note_prefix", \.creditNotePrefix),
        ] {
            guard let prefix = try fields.optionalString(key) else { continue }
            guard prefix.utf8.count <= 20, !prefix.contains(where: { $0.isWhitespace || $0.isNewline }) else {
                throw Rejection(.invalidMessage, "\(fields.path).\(key) is at most 20 characters without spaces")
            }
            profile[keyPath: path] = prefix
        }
        guard profile.numberPrefix != profile.creditNotePrefix else {
            throw Rejection(.invalidMessage, "\(fields.path).credit_note_prefix must differ from number_prefix")
        }
        return profile
    }

    /// A postal address: `line1`, `city` and an ISO 3166-1 alpha-2 `country` are required.
    public static func address(_ fields: Fields) throws(Rejection) -> PostalAddress {
        let country = try fields.string("country")
        guard
            let address = PostalAddress(
                line1: try fields.string("line1"), line2: try fields.optionalString("line2"),
                city: try fields.string("city"), postalCode: try fields.optionalString("postal_code"),
                region: try fields.optionalString("region"), country: country)
        else {
            throw Rejection(.invalidMessage, "\(fields.path).country \(country) is not an ISO 3166-1 alpha-2 code")
        }
        return address
    }

    static func taxes(_ items: [Fields]) throws(Rejection) -> [TaxRate] {
        guard items.count <= 20 else { throw Rejection(.invalidMessage, "data.taxes has more than 20 taxes") }
        var taxes: [TaxRate] = []
        for item in items {
            let code = try item.string("code")
            guard !taxes.contains(where: { $0.code == code }) else {
                throw Rejection(.invalidMessage, "\(item.path).code \(code) is listed twice")
            }
            guard
                let tax = TaxRate(
                    code: code, name: try item.string("name"), rate: try item.decimal("rate"),
                    isDefault: item.has("default") ? try item.bool("default") : false)
            else {
                throw Rejection(.invalidMessage, "\(item.path).rate must be a percentage from 0 to 100")
            }
            taxes.append(tax)
        }
        return taxes
    }
}

extension BillingSettingsCoding {
    /// The settings a `tenant.updated` carries (or a tenant's stored document).
    public static func settings(stored data: JSONValue) -> Result<TenantBillingSettings, Rejection> {
        Result { () throws(Rejection) in try settings(Fields(data, path: "tenant")) }
    }
}

extension BillingSettingsCoding {
    /// A tenant's invoicing settings as of a revision of `tenant.updated`: what each worker that
    /// follows them keeps, applying only a newer revision than it has.
    public struct Revised: Sendable {
        public var revision: Int64
        public var settings: TenantBillingSettings

        public init(json: JSONValue) throws(Rejection) {
            guard case .number(let text)? = json["revision"], let revision = Int64(text) else {
                throw Rejection(.invalidMessage, "tenant.revision is missing")
            }
            self.revision = revision
            settings = try BillingSettingsCoding.settings(stored: json).get()
        }

        /// What is kept of a `tenant.updated`: its invoicing settings and its revision.
        public static func kept(_ data: JSONValue) -> JSONValue {
            var kept: JSONObject = [:]
            for key in keys + ["revision"] { kept[key] = data[key] }
            return .object(kept)
        }
    }
}
