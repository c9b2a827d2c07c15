/// What a user may do: reps and managers sync their territories (managers may hold several); admins manage the
/// server and see everything.
public enum Role: String, Sendable, Hashable, Codable, CaseIterable {
    case rep, manager, admin
}

/// A user of the server, as stored (the token only as its hash).
public struct User: Sendable, Hashable, Codable {
    public var name: String
    public var role: Role
    public var territories: [String]
    public var isRevoked: Bool

    public init(name: String, role: Role, territories: [String], isRevoked: Bool = false) {
        self.name = name
        self.role = role
        self.territories = territories
        self.isRevoked = isRevoked
    }

    enum CodingKeys: String, CodingKey {
        case name, role, territories
        case isRevoked = "revoked"
    }

    /// Whether the user sees every account (admins).
    var seesEverything: Bool { role == .admin }

    /// User names: 1–64 of `A-Z a-z 0-9 . _ - @`.
    public static func isValidName(_ name: String) -> Bool {
        (1...64).contains(name.utf8.count)
            && name.utf8.allSatisfy { byte in
                (48...57).contains(byte) || (65...90).contains(byte) || (97...122).contains(byte)
                    || [UInt8(ascii: "."), UInt8(ascii: "_"), UInt8(ascii: "-"), UInt8(ascii: "@")].contains(byte)
            }
    }
}
