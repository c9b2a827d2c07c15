import ArgumentParser

/// `crm-field`: the field rep's CRM on the command line, working offline on a local replica and syncing with the
/// company's sync server when the network is there.
@main
struct CRMField: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "crm-field",
        abstract: "Your customers, tasks, deals and stock, offline; `crm-field sync` when the network is back.",
        discussion: """
            Start with `crm-field init --server URL --token TOKEN` (IT gives you both), or try everything with
            `crm-field demo`. Every command takes --home DIR (default $CRM_FIELD_HOME, else
            ~/.local/share/crm-field) and --json. Times are shown in your time zone; money with two decimals.
            Shell completion: crm-field --generate-completion-script bash|zsh|fish
            """,
        version: "0.5.0",
        subcommands: [
            Init.self, Sync.self, Status.self, AccountCommand.self, ContactCommand.self, Log.self, History.self,
            TaskCommand.self, DealCommand.self, Pipeline.self, ProductCommand.self, StockCommand.self,
            InvoiceCommand.self, ConflictCommand.self, Export.self, Demo.self,
        ]
    )
}
