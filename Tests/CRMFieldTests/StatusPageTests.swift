import Foundation
import FoundationNetworking
import SyncServer
import SyncTestSupport
import Testing

@testable import crm_field

/// IT's status page in a real browser: headless Chromium (Debian's package) signs in through the page's form with
/// an admin's token, and the test reads the signed-in page's DOM (`--dump-dom`) and saves a screenshot.
@Suite("IT's status page in Chromium", .serialized)
struct StatusPageTests {
    static let chromium = "/usr/bin/chromium"

    /// Posts the sign-in form with `token` from a local file (the token in a form body, never in a URL), lets the
    /// browser follow the server's pages for a few virtual seconds, and returns the final page's DOM.
    static func signIn(token: String, server: String, folder: URL, screenshot: String? = nil) throws -> String {
        let form = folder.appendingPathComponent("sign-in-\(UUID().uuidString.prefix(6)).html")
        try """
        <!DOCTYPE html><html><body>
        <form method="post" action="\(server)/login"><input type="hidden" name="token" value="\(token)"></form>
        <script>document.forms[0].submit()</script>
        </body></html>
        """.write(to: form, atomically: true, encoding: .utf8)
        var arguments = [
            "--headless", "--no-sandbox", "--disable-gpu",
            "--user-data-dir=\(folder.appendingPathComponent("profile-\(UUID().uuidString.prefix(6))").path)",
            "--virtual-time-budget=5000", "--window-size=1280,900",
        ]
        arguments += screenshot.map { ["--screenshot=\($0)"] } ?? ["--dump-dom"]
        let result = try ITServer.run(URL(fileURLWithPath: chromium), arguments + [form.absoluteString])
        #expect(result.status == 0, "chromium failed: \(result.output.suffix(2000))")
        return result.output
    }

    @Test(
        "an admin signs in and sees replicas, conflicts and audit entries; a rep's token is refused",
        arguments: ITServer.Backend.available
    )
    func statusPage(backend: ITServer.Backend) async throws {
        try #require(
            FileManager.default.isExecutableFile(atPath: Self.chromium),
            "install Debian's chromium (.ci/run does)"
        )
        let it = try ITServer(backend)
        defer { it.cleanUp() }
        let admin = try it.admin(["user", "add", "root", "--role", "admin"])
        let alice = try it.addRep("alice")
        let bob = try it.addRep("bob")
        try it.importAccounts()
        let server = try await it.serve()
        defer { server.stop() }
        let aliceHome = try await it.laptop(alice, server: server)
        let bobHome = try await it.laptop(bob, server: server)
        // A kept conflict: both reps change the same phone offline.
        _ = await cli(["account", "edit", "acc-mueller", "--phone", "+49 30 1"], home: aliceHome)
        _ = await cli(["account", "edit", "acc-mueller", "--phone", "+49 30 2"], home: bobHome)
        #expect(await cli(["sync"], home: aliceHome).exitCode == 0)
        #expect(await cli(["sync"], home: bobHome).exitCode == 0)

        let dom = try Self.signIn(token: admin, server: server.url, folder: it.folder)
        #expect(dom.contains("<h1>crm-sync-server status</h1>"), "\(dom.prefix(3000))")
        #expect(dom.contains("Signed in as root"), "\(dom.prefix(3000))")
        #expect(dom.contains("Version \(ServerVersion.current)"), "\(dom.prefix(3000))")
        #expect(dom.contains(backend == .sqlite ? "SQLite " : "PostgreSQL "), "\(dom.prefix(3000))")
        let replicas =
            dom.components(separatedBy: "id=\"replicas\"").last?.components(separatedBy: "</table>").first ?? ""
        #expect(replicas.contains("<td>alice</td>") && replicas.contains("<td>bob</td>"), "\(replicas)")
        #expect(replicas.contains(" UTC</td>") && !replicas.contains("never</td><td"), "pushed and pulled: \(replicas)")
        let conflicts =
            dom.components(separatedBy: "id=\"conflicts\"").last?.components(separatedBy: "</table>").first ?? ""
        #expect(conflicts.contains("<td>account</td><td class=\"n\">1</td>"), "\(conflicts)")
        let audit = dom.components(separatedBy: "id=\"audit\"").last?.components(separatedBy: "</table>").first ?? ""
        #expect(
            audit.contains("<td>import</td><td>accounts</td>") && audit.contains("<td>user.add</td><td>alice</td>"),
            "\(audit)"
        )
        #expect(!dom.contains(admin) && !dom.contains(alice), "no token on the page")
        #expect(!dom.contains("+49 30 1"), "no customer value on the page")

        let shot = FileManager.default.temporaryDirectory.appendingPathComponent("status-page-\(backend).png").path
        try? FileManager.default.removeItem(atPath: shot)
        _ = try Self.signIn(token: admin, server: server.url, folder: it.folder, screenshot: shot)
        let size = (try FileManager.default.attributesOfItem(atPath: shot)[.size] as? Int) ?? 0
        #expect(size > 10_000, "a screenshot at \(shot)")
        print("status page screenshot: \(shot)")

        // A rep's token does not open it, and neither does a token in the URL.
        let refused = try Self.signIn(token: alice, server: server.url, folder: it.folder)
        #expect(refused.contains("This page is for IT's admins; alice is a rep."), "\(refused.prefix(2000))")
        #expect(!refused.contains("id=\"replicas\""))
        let byURL = try ITServer.run(
            URL(fileURLWithPath: Self.chromium),
            ["--headless", "--no-sandbox", "--disable-gpu", "--dump-dom", "\(server.url)/?token=\(admin)"]
        )
        #expect(byURL.output.contains("Sign in with an admin's token") && !byURL.output.contains("id=\"replicas\""))
    }

    @Test("the session cookie is HttpOnly, SameSite=Strict and short-lived; signing out ends it")
    func sessionCookie() async throws {
        let it = try ITServer(.sqlite)
        defer { it.cleanUp() }
        let admin = try it.admin(["user", "add", "root", "--role", "admin"])
        let server = try await it.serve()
        defer { server.stop() }
        var request = URLRequest(url: URL(string: server.url + "/login")!)
        request.httpMethod = "POST"
        request.httpBody = Data("token=\(admin)".utf8)
        request.setValue("application/x-www-form-urlencoded", forHTTPHeaderField: "Content-Type")
        let (_, response) = try await URLSession.shared.data(for: request)
        let cookie = (response as? HTTPURLResponse)?.value(forHTTPHeaderField: "Set-Cookie") ?? ""
        #expect(cookie.hasPrefix("crm_session="), "\(cookie)")
        #expect(
            cookie.contains("HttpOnly") && cookie.contains("SameSite=Strict") && cookie.contains("Max-Age=900"),
            "\(cookie)"
        )
        let session = String(cookie.prefix { $0 != ";" })
        var page = URLRequest(url: URL(string: server.url + "/")!)
        page.setValue(session, forHTTPHeaderField: "Cookie")
        let signedIn = String(decoding: try await URLSession.shared.data(for: page).0, as: UTF8.self)
        #expect(signedIn.contains("Signed in as root"))
        var logout = URLRequest(url: URL(string: server.url + "/logout")!)
        logout.httpMethod = "POST"
        logout.setValue(session, forHTTPHeaderField: "Cookie")
        _ = try await URLSession.shared.data(for: logout)
        let after = String(decoding: try await URLSession.shared.data(for: page).0, as: UTF8.self)
        #expect(after.contains("Sign in with an admin's token") && !after.contains("Signed in as root"))
    }
}
