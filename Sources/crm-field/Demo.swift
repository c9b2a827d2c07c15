import ArgumentParser

struct Demo: FieldCommand {
    static let configuration = CommandConfiguration(abstract: "The main job in one command.")
    @OptionGroup var global: GlobalOptions
    func execute(_ context: FieldContext) async throws {}
}
