import Foundation
import MoEFormats
import MoEModels
import MoETensor

/// Paths of the committed fixtures made by scripts/oracle/make_tiny_models.py.
enum Fixtures {
    static let root: String = {
        let here = URL(fileURLWithPath: #filePath).deletingLastPathComponent()
        return here.deletingLastPathComponent().appendingPathComponent("Fixtures/tiny").path
    }()

    static let names = [
        "llama", "llama_f16", "qwen2", "qwen3", "granite",
        "mixtral", "qwen2_moe", "qwen3_moe", "qwen3_moe_step2", "olmoe", "granitemoe",
        "deepseek_v3", "deepseek_v3_noq", "glm4_moe", "glm_moe_dsa", "deepseek_v3_fp8", "glm_moe_dsa_fp8", "deepseek_v32",
    ]

    static func path(_ name: String) -> String { root + "/" + name }

    static let pool = ThreadPool(threads: 2)
}

/// The transformers reference recorded for one tiny model.
struct Oracle {
    let modelType: String
    let inputIds: [Int32]
    let logits: [[Float]]
    let greedy: [Int32]
    let moeLayers: [Int]
    let experts: [[[Int]]]
    let expertMargins: [[Double]]
    /// DSA models: positions attended, [layer][position] (all layers).
    let indexerTopK: [[[Int]]]?

    init(_ name: String) throws {
        let json = try JSONParser.parse(try readFile(Fixtures.path(name) + "/oracle.json"))
        modelType = json["model_type"]!.stringValue!
        inputIds = json["input_ids"]!.arrayValue!.map { Int32($0.intValue!) }
        logits = json["logits"]!.arrayValue!.map { $0.arrayValue!.map { Float($0.doubleValue!) } }
        greedy = json["greedy"]!.arrayValue!.map { Int32($0.intValue!) }
        moeLayers = json["moe_layers"]!.arrayValue!.map { $0.intValue! }
        experts = json["experts"]!.arrayValue!.map { l in l.arrayValue!.map { p in p.arrayValue!.map { $0.intValue! } } }
        expertMargins = (json["expert_margins"]?.arrayValue ?? []).map { l in l.arrayValue!.map { $0.doubleValue! } }
        indexerTopK = json["indexer_topk"]?.arrayValue?.map { l in l.arrayValue!.map { p in p.arrayValue!.map { $0.intValue! } } }
    }
}

/// max |a−b| over two equally long rows.
func maxAbsDiff(_ a: ArraySlice<Float>, _ b: [Float]) -> Float {
    zip(a, b).map { abs($0 - $1) }.max() ?? 0
}
