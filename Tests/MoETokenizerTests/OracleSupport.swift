import Foundation
import MoEFormats
import Testing
import MoETokenizer

/// The committed reference data (made by scripts/tokenizer/make_oracle.py).
enum Oracle {
    static let directory = URL(fileURLWithPath: #filePath).deletingLastPathComponent().appendingPathComponent("Oracle")

    static func json(_ relative: String, in dir: URL = directory) -> JSONValue {
        let data = FileManager.default.contents(atPath: dir.appendingPathComponent(relative).path)!
        return try! JSONParser.parse([UInt8](data))
    }

    static let corpus: [String] = json("corpus.json").arrayValue!.map { $0.stringValue! }

    struct Entry: Sendable, CustomStringConvertible {
        let name: String
        let tokenizer: String
        let expected: String
        var description: String { name }
    }

    static let entries: [Entry] = json("manifest.json")["entries"]!.arrayValue!.map {
        Entry(name: $0["name"]!.stringValue!, tokenizer: $0["tokenizer"]!.stringValue!, expected: $0["expected"]!.stringValue!)
    }

    struct Case {
        let ids: [Int32]
        let idsNoSpecial: [Int32]
        let decoded: String
        let decodedSkipSpecial: String
    }

    static func cases(_ relative: String, in dir: URL = directory) -> [Case] {
        json(relative, in: dir).arrayValue!.map { c in
            Case(ids: c["ids"]!.arrayValue!.map { Int32($0.intValue!) },
                 idsNoSpecial: c["ids_no_special"]!.arrayValue!.map { Int32($0.intValue!) },
                 decoded: c["decoded"]!.stringValue!,
                 decodedSkipSpecial: c["decoded_skip_special"]!.stringValue!)
        }
    }

    static func tokenizer(_ entry: Entry, in dir: URL = directory) throws -> Tokenizer {
        try Tokenizer(contentsOfFile: dir.appendingPathComponent(entry.tokenizer).path)
    }
}

/// Byte-exact string comparison (Swift `==` on String is canonical equivalence).
func sameBytes(_ a: String, _ b: String) -> Bool { Array(a.utf8) == Array(b.utf8) }

func show(_ s: String) -> String {
    s.unicodeScalars.map { $0.isASCII && $0.value >= 0x20 && $0.value < 0x7F ? String($0) : String(format: "\\u{%X}", $0.value) }.joined()
}

/// GPT-2's printable character for a byte (the byte-level alphabet), written out here independently.
func byteLevelCharacter(_ b: UInt8) -> String {
    var printable: [UInt8] = Array(0x21...0x7E) + Array(0xA1...0xAC) + Array(0xAE...0xFF)
    if let i = printable.firstIndex(of: b) { return String(Character(Unicode.Scalar(printable[i]))) }
    printable = (0...255).map { UInt8($0) }.filter { !(0x21...0x7E).contains($0) && !(0xA1...0xAC).contains($0) && !(0xAE...0xFF).contains($0) }
    return String(Character(Unicode.Scalar(UInt32(256 + printable.firstIndex(of: b)!))!))
}
