import Foundation

/// Whether the PostgreSQL cases run. `POSTGRES_URL` names a server (the README's test command starts one and sets
/// `CRM_REQUIRE_POSTGRES=1`). When it is required and missing, the PostgreSQL cases still run and fail on the missing
/// URL: in the test command, and so in CI, a missing PostgreSQL is a failure, never a silent pass. Elsewhere the
/// cases are left out and `PostgreSQLSkipReport`'s test reports the skip.
public enum PostgresForTests {
    public static var url: String? { ProcessInfo.processInfo.environment["POSTGRES_URL"] }

    public static var required: Bool { ProcessInfo.processInfo.environment["CRM_REQUIRE_POSTGRES"] == "1" }

    /// Whether the PostgreSQL cases are run (and then fail when the URL is missing).
    public static var runs: Bool { url != nil || required }

    /// The server's URL, or an error that says the test command requires it.
    public static func requireURL() throws -> String {
        guard let url else { throw Missing() }
        return url
    }

    public struct Missing: Error, CustomStringConvertible {
        public var description: String {
            "CRM_REQUIRE_POSTGRES=1 but POSTGRES_URL is not set: run the tests through scripts/with-postgres.sh"
        }
    }
}
