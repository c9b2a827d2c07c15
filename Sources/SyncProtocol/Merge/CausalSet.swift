/// A value stamped with the dot of the change that wrote it and the causal context that change was made in.
public protocol CausallyStamped: Hashable, Sendable {
    var dot: Dot { get }
    var context: VectorClock { get }
}

/// The causally maximal elements of a set of stamped writes: every write that no other write has seen.
///
/// This is the core of the multi-value register (and of counter resets): inserting a write removes the writes
/// its context contains, and a write already contained in a kept write's context is superseded. Concurrent writes
/// all stay, sorted by dot, so the set is canonical whatever order the writes came in.
public struct CausalSet<Element: CausallyStamped>: Hashable, Sendable {
    /// Sorted by dot; no element's context contains another element's dot.
    public private(set) var elements: [Element]

    public init() {
        elements = []
    }

    public var isEmpty: Bool { elements.isEmpty }

    /// Inserts `element` unless it is a duplicate or already superseded.
    public mutating func insert(_ element: Element) -> MergeStatus {
        if elements.count == 1 {
            // The common case: one current value. Avoids the general scans below.
            let current = elements[0]
            if current.dot == element.dot { return .duplicate }
            if current.context.contains(element.dot) { return .superseded }
            if element.context.contains(current.dot) {
                elements[0] = element
                return .applied
            }
        } else {
            for current in elements {
                if current.dot == element.dot { return .duplicate }
                if current.context.contains(element.dot) { return .superseded }
            }
            elements.removeAll { element.context.contains($0.dot) }
        }
        let index = elements.firstIndex { element.dot < $0.dot } ?? elements.endIndex
        elements.insert(element, at: index)
        return .applied
    }
}

extension CausalSet: Codable where Element: Codable {
    public init(from decoder: any Decoder) throws {
        var set = CausalSet()
        for element in try decoder.singleValueContainer().decode([Element].self) {
            _ = set.insert(element)
        }
        self = set
    }

    public func encode(to encoder: any Encoder) throws {
        var container = encoder.singleValueContainer()
        try container.encode(elements)
    }
}
