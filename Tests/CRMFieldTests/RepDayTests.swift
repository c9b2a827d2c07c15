import Foundation
import ReplicaStore
import SyncProtocol
import SyncServer
import SyncTestSupport
import Testing

@testable import crm_field

/// The rep's day (issue 16): the calendar, today/agenda/remind, my work first, deal cards, short ids, times as
/// people type them, readable history, errors in one style, a quiet end when output is cut off.
@Suite("The rep's day")
struct RepDayTests {
    /// Runs a process off the cooperative pool (the in-process server answers it meanwhile).
    static func run(_ executable: URL, _ arguments: [String]) async throws -> (status: Int32, output: String) {
        try await withCheckedThrowingContinuation { continuation in
            DispatchQueue.global().async {
                continuation.resume(with: Result { try ITServer.run(executable, arguments) })
            }
        }
    }

    /// `python3 ARGS… tmux …` runs tmux with every signal unblocked and at its default: a thread of the test
    /// process blocks most signals, a child inherits that mask, and tmux's client then waits forever for its server.
    static let unmasked = [
        "-c",
        "import os, signal, sys; signal.pthread_sigmask(signal.SIG_SETMASK, set()); "
            + "[signal.signal(s, signal.SIG_DFL) for s in (signal.SIGPIPE, signal.SIGCHLD, signal.SIGUSR1, "
            + "signal.SIGUSR2, signal.SIGHUP, signal.SIGINT)]; args = sys.argv[1:]; quiet = args[:1] == ['--quiet']; "
            + "null = os.open(os.devnull, os.O_RDWR) if quiet else None; "
            + "[os.dup2(null, fd) for fd in (0, 1, 2)] if quiet else None; os.closerange(3, 65536); "
            + "os.execvp('tmux', ['tmux'] + args[1 if quiet else 0:])",
    ]

    /// The id a write printed with --json.
    static func id(_ result: CLIResult) -> String { result.object["id"] as? String ?? "" }

    @Test("meetings: booked with people's times and short ids, listed mine first, moved, held (logged), cancelled")
    func meetings() async throws {
        try await CLIServer.with { server in
            try await server.loadSample()
            let alice = try await server.laptop(try await server.addRep("alice"))
            let bob = try await server.laptop(try await server.addRep("bob"))

            let deal = Self.id(
                await cli(["deal", "add", "--account", "acc-mueller", "--title", "Pumps", "--json"], home: alice)
            )
            let booked = await cli(
                [
                    "meeting", "add", "--account", "ACC-MUELLER", "--title", "Demo of the CP-100",
                    "--at", "tomorrow 10:00", "--until", "tomorrow 11:30", "--place", "Berlin",
                    "--deal", String(deal.prefix(12)).lowercased(), "--json",
                ],
                home: alice
            )
            #expect(booked.exitCode == 0, "\(booked.err)")
            let meeting = Self.id(booked)
            #expect(booked.object["account_id"] as? String == "acc-mueller", "the account's id, given in upper case")
            #expect(booked.object["deal_id"] as? String == deal, "the deal, given by a lower-case prefix")
            #expect(booked.object["status"] as? String == "planned")
            #expect(booked.object["assignee"] as? String == "alice")
            let tomorrow10 = try #require(
                FieldInput.parseTime("tomorrow 10:00", now: ReplicaConfiguration.systemNow(), endOfDay: false)
            )
            #expect(booked.object["starts_at"] as? String == ISO8601.format(millisecondsSince1970: tomorrow10))
            let card = await cli(["history", "acc-mueller", "--json"], home: alice).object
            #expect((card["appointments"] as? [[String: Any]])?.first?["id"] as? String == meeting, "on the card")
            #expect(await cli(["history", "acc-mueller"], home: alice).out.contains("Appointments (1)"))
            let people = await cli(["meeting", "list"], home: alice)
            #expect(people.out.contains("Demo of the CP-100") && people.out.contains("Müller Haustechnik GmbH"))
            #expect(people.out.contains(String(meeting.prefix(10))) && !people.out.contains(meeting), "short ids")

            // An overlapping booking is accepted with a note.
            let overlap = await cli(
                ["meeting", "add", "--title", "Dentist", "--at", "tomorrow 11:00"],
                home: alice
            )
            #expect(overlap.exitCode == 0 && overlap.err.contains("overlaps \"Demo of the CP-100\""), "\(overlap.err)")

            // Bob sees the customer's meeting only with --all; the account-less one never reaches him.
            #expect(await cli(["sync"], home: alice).exitCode == 0)
            #expect(await cli(["sync"], home: bob).exitCode == 0)
            #expect(await cli(["meeting", "list", "--json"], home: bob).array.isEmpty, "not his")
            let team = await cli(["meeting", "list", "--all", "--json"], home: bob).array
            #expect(team.compactMap { $0["title"] as? String } == ["Demo of the CP-100"])

            // Moved: the length stays.
            let moved = await cli(
                ["meeting", "move", String(meeting.prefix(12)), "--at", "+2d", "--json"],
                home: alice
            ).object
            let start = try #require((moved["starts_at"] as? String).flatMap(ISO8601.parseTimestamp))
            let end = try #require((moved["ends_at"] as? String).flatMap(ISO8601.parseTimestamp))
            #expect(end - start == 90 * 60_000)

            // Held: the appointment is done and the meeting is in the customer's history, in one transaction.
            let held = await cli(
                ["meeting", "done", meeting, "--notes", "They want 30 in January", "--json"],
                home: alice
            ).object
            #expect(held["status"] as? String == "done")
            let logged = try #require(held["logged_activity_id"] as? String)
            let history = await cli(["history", "acc-mueller", "--json"], home: alice).object
            let interaction = try #require(
                (history["interactions"] as? [[String: Any]])?.first { $0["id"] as? String == logged }
            )
            #expect(interaction["kind"] as? String == "meeting")
            #expect(interaction["subject"] as? String == "Demo of the CP-100")
            #expect(interaction["deal_id"] as? String == deal)
            #expect((interaction["body"] as? String)?.contains("They want 30 in January") == true)
            #expect(await cli(["meeting", "done", meeting], home: alice).exitCode == 2, "held once")
            let shown = await cli(["activity", "show", String(logged.prefix(12))], home: alice)
            #expect(shown.out.contains("They want 30 in January") && shown.out.contains("Müller"))

            // Cancelled, and the log refuses a future interaction with a hint to book it.
            let dentist = await cli(["meeting", "list", "--json"], home: alice).array.first {
                $0["title"] as? String == "Dentist"
            }
            let cancelled = await cli(["meeting", "cancel", dentist?["id"] as? String ?? "", "--json"], home: alice)
            #expect(cancelled.object["status"] as? String == "cancelled")
            let future = await cli(
                ["log", "--account", "acc-mueller", "--kind", "meeting", "--subject", "Next", "--at", "tomorrow 9:00"],
                home: alice
            )
            #expect(future.exitCode == 2 && future.err.contains("crm-field meeting add"), "\(future.err)")
            #expect(await cli(["sync"], home: alice).exitCode == 0)
            #expect(await cli(["sync"], home: bob).exitCode == 0)
            let bobs = await cli(["history", "acc-mueller", "--json"], home: bob).object
            #expect((bobs["interactions"] as? [[String: Any]])?.contains { $0["id"] as? String == logged } == true)
        }
    }

    @Test("today, agenda and remind: my meetings, tasks, reminders and overdue invoices, in time order")
    func today() async throws {
        try await CLIServer.with { server in
            try await server.loadSample()
            let alice = try await server.laptop(try await server.addRep("alice"))
            // Alice owns Müller (its overdue invoice R-1 is hers to chase); Schmidt's is nobody's.
            _ = await cli(["account", "list"], home: alice)
            let task = { (title: String, due: String, remind: String?) async -> String in
                var arguments = [
                    "task", "add", "--account", "acc-mueller", "--title", title, "--due-at", due, "--json",
                ]
                if let remind { arguments += ["--remind-at=\(remind)"] }
                return Self.id(await cli(arguments, home: alice))
            }
            let late = await task("Send the quote", "yesterday 16:00", nil)
            let callBack = await task("Call back Anna Weber", "today 23:00", "-1m")
            let later = await task("Prepare the fair", "+5d", nil)
            _ = await cli(
                ["meeting", "add", "--account", "acc-mueller", "--title", "Visit", "--at", "+3h"],
                home: alice
            )
            _ = await cli(["task", "add", "--title", "Bob's", "--due-at", "today", "--assignee", "bob"], home: alice)

            let day = await cli(["today", "--json"], home: alice).array
            let kinds = day.map { "\($0["kind"] as? String ?? ""):\($0["title"] as? String ?? "")" }
            #expect(kinds.contains("task:Send the quote") && kinds.contains("reminder:Call back Anna Weber"))
            #expect(!kinds.contains { $0.contains("Bob's") } && !kinds.contains { $0.contains("fair") })
            let times = day.compactMap { $0["at"] as? String }
            #expect(times == times.sorted(), "time order")
            #expect(day.first { $0["id"] as? String == late }?["overdue"] as? Bool == true)
            let screen = await cli(["today"], home: alice).out
            #expect(screen.contains("late") && screen.contains("Müller Haustechnik GmbH"))

            let week = await cli(["agenda", "--days", "7", "--json"], home: alice).array
            #expect(week.contains { $0["id"] as? String == later }, "the fair is within the week")
            #expect(await cli(["agenda", "--days", "3"], home: alice).out.contains("=="), "one heading per day")

            // remind: the reminder that has come, once; then nothing (exit 1) until --again.
            let first = await cli(["remind"], home: alice)
            #expect(first.exitCode == 0 && first.out.contains("Call back Anna Weber"), "\(first.out)\(first.err)")
            #expect(await cli(["remind"], home: alice).exitCode == 1, "told once")
            let again = await cli(["remind", "--again", "--json"], home: alice)
            #expect(again.exitCode == 0 && again.array.contains { $0["id"] as? String == callBack })
            _ = await cli(["task", "done", callBack], home: alice)
            #expect(await cli(["remind", "--again"], home: alice).exitCode == 1, "a done task reminds no more")
        }
    }

    @Test("deals: mine first with the customer, owner and dates, deal show with days in stage and its parts")
    func deals() async throws {
        try await CLIServer.with { server in
            try await server.loadSample()
            let alice = try await server.laptop(try await server.addRep("alice"))
            let bob = try await server.laptop(try await server.addRep("bob"))
            let mine = await cli(
                [
                    "deal", "add", "--account", "acc-mueller", "--title", "Pumps", "--amount", "12000", "--currency",
                    "EUR", "--json",
                ],
                home: alice
            ).object
            #expect(mine["owner"] as? String == "alice" && mine["created_at"] is String && mine["closed_at"] == nil)
            let id = mine["id"] as? String ?? ""
            _ = await cli(["deal", "add", "--account", "acc-schmidt", "--title", "Valves", "--json"], home: bob)
            _ = await cli(["sync"], home: bob)
            _ = await cli(["sync"], home: alice)
            #expect(await cli(["deal", "list", "--json"], home: alice).array.count == 1, "mine")
            #expect(await cli(["deal", "list", "--all", "--json"], home: alice).array.count == 2, "the team's")
            let table = await cli(["deal", "list", "--all"], home: alice).out
            #expect(table.contains("Schmidt Bau AG") && table.contains("CUSTOMER") && table.contains("bob"))

            _ = await cli(["task", "add", "--account", "acc-mueller", "--title", "Quote", "--deal", id], home: alice)
            _ = await cli(
                ["meeting", "add", "--account", "acc-mueller", "--title", "Demo", "--at", "+1d", "--deal", id],
                home: alice
            )
            _ = await cli(
                ["log", "--account", "acc-mueller", "--kind", "call", "--subject", "Asked", "--deal", id],
                home: alice
            )
            _ = await cli(["deal", "stage", id, "negotiation"], home: alice)
            let card = await cli(["deal", "show", String(id.prefix(11)), "--json"], home: alice).object
            #expect(card["days_in_stage"] as? Int == 0)
            #expect(
                (card["stages"] as? [[String: Any]])?.compactMap { $0["stage"] as? String } == ["new", "negotiation"]
            )
            #expect((card["tasks"] as? [Any])?.count == 1 && (card["appointments"] as? [Any])?.count == 1)
            #expect((card["interactions"] as? [Any])?.count == 1)
            #expect((card["account"] as? [String: Any])?["name"] as? String == "Müller Haustechnik GmbH")
            let screen = await cli(["deal", "show", id], home: alice).out
            #expect(screen.contains("negotiation, 0 days in it") && screen.contains("12,000.00 EUR"), "\(screen)")

            let won = await cli(["deal", "stage", id, "won", "--json"], home: alice).object
            #expect(won["closed_at"] is String)
            let reopened = await cli(["deal", "stage", id, "decision", "--json"], home: alice).object
            #expect(reopened["closed_at"] == nil, "reopening clears closed_at")
        }
    }

    @Test("short ids: any unique case-insensitive prefix; an ambiguous one names the matches; conflicts by handle")
    func shortIDs() async throws {
        try await CLIServer.with { server in
            try await server.loadSample()
            let alice = try await server.laptop(try await server.addRep("alice"))
            let bob = try await server.laptop(try await server.addRep("bob"))
            #expect(
                await cli(["account", "show", "acc-m", "--json"], home: alice).object["id"] as? String == "acc-mueller"
            )
            let ambiguous = await cli(["account", "show", "acc-"], home: alice)
            #expect(ambiguous.exitCode == 2)
            #expect(ambiguous.err.hasPrefix("crm-field: acc- matches 2 accounts") && ambiguous.err.contains("Schmidt"))
            #expect(await cli(["account", "show", "zzz"], home: alice).err.contains("no account zzz"))

            _ = await cli(["account", "edit", "acc-mueller", "--phone", "1"], home: alice)
            _ = await cli(["account", "edit", "acc-mueller", "--phone", "2"], home: bob)
            _ = await cli(["sync"], home: alice)
            _ = await cli(["sync"], home: bob)
            _ = await cli(["sync"], home: alice)
            let conflicts = await cli(["conflict", "list", "--json"], home: alice).array
            let handle = try #require(conflicts.first?["handle"] as? String)
            #expect(handle.count == 7)
            #expect(await cli(["conflict", "list"], home: alice).out.contains(handle))
            let resolved = await cli(["conflict", "resolve", String(handle.prefix(5)), "--keep"], home: alice)
            #expect(resolved.exitCode == 0, "\(resolved.err)")
            #expect(await cli(["conflict", "list", "--json"], home: alice).array.isEmpty)
        }
    }

    @Test("times as people type them, in the laptop's time zone")
    func times() throws {
        let calendar = Calendar.current
        let now = Int64(Date().timeIntervalSince1970 * 1000)
        let nowDate = Date(timeIntervalSince1970: Double(now) / 1000)
        func local(_ day: Int, _ month: Int, _ year: Int, _ hour: Int = 0, _ minute: Int = 0) -> Int64 {
            let date = calendar.date(
                from: DateComponents(year: year, month: month, day: day, hour: hour, minute: minute)
            )!
            return Int64(date.timeIntervalSince1970 * 1000)
        }
        func parse(_ text: String, endOfDay: Bool = false) -> Int64? {
            FieldInput.parseTime(text, now: now, endOfDay: endOfDay)
        }
        #expect(parse("04.12.2026") == local(4, 12, 2026))
        #expect(parse("04.12.2026 10:30") == local(4, 12, 2026, 10, 30))
        #expect(parse("2026-12-04 10:30") == local(4, 12, 2026, 10, 30))
        #expect(parse("2026-12-04T09:30:00Z") == 1_796_376_600_000)
        let tomorrow = calendar.date(byAdding: .day, value: 1, to: nowDate)!
        #expect(
            parse("tomorrow 10:00")
                == Int64(
                    calendar.date(bySettingHour: 10, minute: 0, second: 0, of: tomorrow)!.timeIntervalSince1970 * 1000
                )
        )
        let yesterday = calendar.startOfDay(for: calendar.date(byAdding: .day, value: -1, to: nowDate)!)
        #expect(parse("yesterday") == Int64(yesterday.timeIntervalSince1970 * 1000))
        #expect(parse("+3d") == now + 3 * 86_400_000)
        #expect(parse("-2h") == now - 2 * 3_600_000)
        #expect(parse("+30m") == now + 30 * 60_000)
        for wrong in ["31.02.2026", "tomorrow 25:00", "+3x", "next week", "2026-13-01"] {
            #expect(parse(wrong) == nil, "\(wrong)")
        }
    }

    @Test("errors in one style with suggestions; search by any part; duplicates need --force; phones without spaces")
    func friendlierInput() async throws {
        try await CLIServer.with { server in
            try await server.loadSample()
            let alice = try await server.laptop(try await server.addRep("alice"))
            let cases: [([String], String)] = [
                (["account", "shwo", "acc-mueller"], "no command 'account shwo'; did you mean 'account show'?"),
                (["tsak", "list"], "did you mean 'task'?"),
                (["account", "list", "--serch", "x"], "--search"),
                (["stock", "sell", "P-100", "-2"], "the quantity is a positive number"),
                (["task", "add", "--title", "x", "--remind-at", "-2h"], "--remind-at=-2h"),
                (["task", "add", "--title", "x", "--due-at", "someday"], "must be a time like"),
            ]
            for (arguments, expected) in cases {
                let result = await cli(arguments, home: alice)
                #expect(result.exitCode != 0, "\(arguments)")
                #expect(result.err.hasPrefix("crm-field: "), "\(arguments): \(result.err)")
                #expect(!result.err.contains("Error:"), "\(arguments): \(result.err)")
                #expect(result.err.split(separator: "\n").count == 1, "one line: \(result.err)")
                #expect(result.err.contains(expected), "\(arguments): \(result.err)")
            }
            let json = await cli(["tsak", "list", "--json"], home: alice)
            #expect(json.failure?.code == "usage")

            let found = await cli(["product", "search", "100", "--json"], home: alice).array
            #expect(found.compactMap { $0["part_number"] as? String } == ["P-100"], "inside the part number")
            let valve = await cli(["product", "search", "20"], home: alice).out
            #expect(valve.contains("berlin 140, hamburg 60"), "stock per warehouse: \(valve)")

            let duplicate = await cli(["account", "add", "--name", "schmidt bau ag"], home: alice)
            #expect(duplicate.exitCode == 2 && duplicate.err.contains("--force"), "\(duplicate.err)")
            #expect(await cli(["account", "add", "--name", "Schmidt Bau AG", "--force"], home: alice).exitCode == 0)

            let phone = await cli(["account", "list", "--search", "+49301234567", "--json"], home: alice).array
            #expect(phone.compactMap { $0["id"] as? String } == ["acc-mueller"], "stored as +49 30 1234 567")
            let typed = await cli(["account", "list", "--search", "030 1234-567", "--json"], home: alice).array
            #expect(typed.isEmpty, "a national prefix is another number; the digits must appear in order")
            let partial = await cli(["account", "list", "--search", "1234 567", "--json"], home: alice).array
            #expect(partial.compactMap { $0["id"] as? String } == ["acc-mueller"])
        }
    }

    @Test("history --changes reads as a person reads it: one block per change, old values in causal order")
    func readableHistory() async throws {
        try await CLIServer.with { server in
            try await server.loadSample()
            let alice = try await server.laptop(try await server.addRep("alice"))
            let bob = try await server.laptop(try await server.addRep("bob"))
            let task = Self.id(
                await cli(["task", "add", "--account", "acc-mueller", "--title", "Quote", "--json"], home: alice)
            )
            _ = await cli(
                ["deal", "add", "--account", "acc-mueller", "--title", "Pumps", "--amount", "5750"],
                home: alice
            )
            _ = await cli(["sync"], home: alice)
            _ = await cli(["sync"], home: bob)
            // Concurrently: alice completes the task, bob cancels it; done wins.
            _ = await cli(["task", "done", task], home: alice)
            _ = await cli(["task", "cancel", task], home: bob)
            _ = await cli(["sync"], home: alice)
            _ = await cli(["sync"], home: bob)
            _ = await cli(["sync"], home: alice)
            let screen = await cli(["history", "acc-mueller", "--changes"], home: alice).out
            #expect(screen.contains("open → cancelled  (a concurrent edit won)"), "\(screen)")
            #expect(screen.contains("open → done"))
            #expect(!screen.contains("done → cancelled"), "the old value bob saw, not the arrival order's")
            #expect(screen.contains("amount    5,750.00") || screen.contains("5,750.00"), "money as people read it")
            #expect(!screen.contains("acked") && !screen.contains(".000Z"))
            #expect(screen.contains("created deal \"Pumps\""), "one block per change")
            let limited = await cli(["history", "acc-mueller", "--changes", "--limit", "1"], home: alice).out
            #expect(limited.contains("newest 1 shown"))
            let since = await cli(["history", "acc-mueller", "--changes", "--since", "+1d"], home: alice).out
            #expect(since.contains("Changes (0)"))
        }
    }

    @Test("output cut off by head ends the process quietly (141 or 0), never a crash or a backtrace")
    func brokenPipe() async throws {
        try await CLIServer.with { server in
            try await server.loadSample()
            let alice = try await server.laptop(try await server.addRep("alice"))
            for index in 0..<30 {
                _ = await cli(
                    [
                        "log", "--account", "acc-mueller", "--kind", "note", "--subject", "Note \(index)",
                        "--body", String(repeating: "x", count: 4_000),
                    ],
                    home: alice
                )
            }
            let field = builtExecutable("crm-field").path
            for command in ["history acc-mueller --changes --limit 0", "sync", "account list"] {
                let result = try await Self.run(
                    URL(fileURLWithPath: "/bin/bash"),
                    [
                        "-c",
                        "'\(field)' \(command) --home '\(alice)' 2>/tmp/pipe-err-$$ | head -1 >/dev/null; "
                            + "status=${PIPESTATUS[0]}; cat /tmp/pipe-err-$$; rm -f /tmp/pipe-err-$$; exit $status",
                    ]
                )
                #expect([0, 141].contains(result.status), "\(command): exit \(result.status) \(result.output)")
                #expect(!result.output.contains("Fatal error") && !result.output.contains("Crash"), "\(result.output)")
            }
        }
    }

    @Test("a terminal: today and history --changes read on a real tty (tmux); colours only there and not with NO_COLOR")
    func terminal() async throws {
        guard FileManager.default.isExecutableFile(atPath: "/usr/bin/tmux") else {
            Issue.record("tmux is not installed (.ci/run installs it)")
            return
        }
        try await CLIServer.with { server in
            try await server.loadSample()
            let alice = try await server.laptop(try await server.addRep("alice"))
            try await server.importCSV(
                .accounts,
                "id,name,territory,payment_standing\nacc-mueller,Müller Haustechnik GmbH,north,disloyal\n"
            )
            _ = await cli(["sync"], home: alice)
            _ = await cli(
                // Noon today, not "+2h": after 22:00 that is tomorrow, and `today` rightly leaves it out.
                ["meeting", "add", "--account", "acc-mueller", "--title", "Visit", "--at", "today 12:00"],
                home: alice
            )
            _ = await cli(["task", "add", "--title", "Send the quote", "--due-at", "yesterday"], home: alice)
            let field = builtExecutable("crm-field").path
            let session = "crm-\(UUID().uuidString.prefix(8))"
            func tmux(_ arguments: [String]) async throws -> String {
                // A server of its own (-L), so the environment of a tmux server already running does not leak in.
                let quiet = arguments.first == "--quiet"
                return try await Self.run(
                    URL(fileURLWithPath: "/usr/bin/python3"),
                    Self.unmasked + (quiet ? ["--quiet"] : []) + ["-L", session] + arguments.dropFirst(quiet ? 1 : 0)
                ).output
            }
            // The server tmux starts would hold a captured pipe open: its output goes to /dev/null.
            _ = try await tmux(
                [
                    "--quiet", "new-session", "-d", "-s", session, "-x", "160", "-y", "50", "bash", "--norc",
                    "--noprofile",
                ]
            )
            defer {
                _ = try? ITServer.run(
                    URL(fileURLWithPath: "/usr/bin/python3"),
                    Self.unmasked + ["-L", session, "kill-server"]
                )
            }
            func screen(_ command: String) async throws -> String {
                _ = try await tmux(["send-keys", "-t", session, "clear; \(command); echo DONE-$?", "Enter"])
                for _ in 0..<100 {
                    try await Task.sleep(for: .milliseconds(100))
                    let text = try await tmux(["capture-pane", "-p", "-e", "-t", session])
                    if text.contains("DONE-") { return text }
                }
                return try await tmux(["capture-pane", "-p", "-e", "-t", session])
            }
            let today = try await screen("'\(field)' today --home '\(alice)'")
            #expect(today.contains("Visit") && today.contains("Send the quote") && today.contains("late"), "\(today)")
            #expect(today.contains("DONE-0"))
            let list = try await screen("env -u NO_COLOR TERM=xterm '\(field)' account list --home '\(alice)'")
            #expect(list.contains("\u{1B}[31mdisloyal"), "red on a terminal: \(list)")
            let plain = try await screen("NO_COLOR=1 '\(field)' account list --home '\(alice)'")
            #expect(plain.contains("disloyal") && !plain.contains("\u{1B}[31m"), "\(plain)")
            let piped = try await screen("env -u NO_COLOR '\(field)' account list --home '\(alice)' | cat")
            #expect(!piped.contains("\u{1B}[31m"))
            let history = try await screen("'\(field)' history acc-mueller --changes --home '\(alice)' | head -40")
            #expect(history.contains("== Müller Haustechnik GmbH ==") && history.contains("DONE-0"), "\(history)")
        }
    }
}
