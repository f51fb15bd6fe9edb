/// A value kept on the heap and shared by its copies, equal and hashed by the value: for a large
/// field few values carry (a line's commitment outcome) or many copies repeat (a usage price's
/// tiers), so the structs holding it stay small to copy.
final class Shared<Value: Hashable & Sendable>: Sendable, Hashable {
    let value: Value

    init(_ value: Value) {
        self.value = value
    }

    static func == (lhs: Shared, rhs: Shared) -> Bool { lhs === rhs || lhs.value == rhs.value }
    func hash(into hasher: inout Hasher) { hasher.combine(value) }
}
