import SyncProtocol

@main
struct CoreBenchmark {
    static func main() {
        print("placeholder")
    }
}
