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
///
/// Almost every field holds one value, so the first element is stored inline and only concurrent values go to an
/// array: merging a field change then touches no extra heap object.
public struct CausalSet<Element: CausallyStamped>: Hashable, Sendable, RandomAccessCollection {
    /// The element with the smallest dot.
    private var head: Element?
    /// The other elements, sorted by dot.
    private var tail: [Element] = []

    public init() {}

    public var startIndex: Int { 0 }
    public var endIndex: Int {
        // A pattern match, not `head == nil`, which copies the element out of the optional.
        if case .none = head { return 0 }
        return 1 + tail.count
    }
    public subscript(position: Int) -> Element { position == 0 ? head! : tail[position - 1] }

    /// The elements, sorted by dot (a new array: iterate the set itself on hot paths).
    public var elements: [Element] { Array(self) }

    /// Inserts `element` unless it is a duplicate or already superseded.
    public mutating func insert(_ element: Element) -> MergeStatus {
        guard let current = head else {
            head = element
            return .applied
        }
        if tail.isEmpty {
            // The common case: one current value. The incoming context is checked first: it is at hand, while the
            // current value's context is a separate heap object.
            if current.dot == element.dot { return .duplicate }
            if element.context.contains(current.dot) {
                head = element
                return .applied
            }
            if current.context.contains(element.dot) { return .superseded }
        }
        var all = Array(self)
        for kept in all {
            if kept.dot == element.dot { return .duplicate }
            if kept.context.contains(element.dot) { return .superseded }
        }
        all.removeAll { element.context.contains($0.dot) }
        let index = all.firstIndex { element.dot < $0.dot } ?? all.endIndex
        all.insert(element, at: index)
        head = all.first
        tail = Array(all.dropFirst())
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
