/// Element types MoEKit knows by name. Only some have kernels (`isComputable`); the rest are
/// recognised so that a file holding them is parsed and reported precisely instead of rejected blindly.
public enum DType: String, Sendable, CaseIterable {
    case f32 = "F32"
    case f16 = "F16"
    case bf16 = "BF16"
    case f64 = "F64"
    case f8e4m3 = "F8_E4M3"
    case f8e5m2 = "F8_E5M2"
    case i8 = "I8"
    case u8 = "U8"
    case i16 = "I16"
    case u16 = "U16"
    case i32 = "I32"
    case u32 = "U32"
    case i64 = "I64"
    case u64 = "U64"
    case bool = "BOOL"
    // GGML block-quantised formats (GGUF files).
    case q8_0 = "Q8_0"
    case q4_0 = "Q4_0"
    case q4_1 = "Q4_1"

    /// Bytes per element of a plain type (0 for block-quantised ones: use `bytes(elements:)`).
    public var size: Int {
        switch self {
        case .f8e4m3, .f8e5m2, .i8, .u8, .bool: return 1
        case .f16, .bf16, .i16, .u16: return 2
        case .f32, .i32, .u32: return 4
        case .f64, .i64, .u64: return 8
        case .q8_0, .q4_0, .q4_1: return 0
        }
    }

    /// Elements per block: 32 for the GGML quantised types, 1 otherwise.
    public var blockSize: Int {
        switch self {
        case .q8_0, .q4_0, .q4_1: return 32
        default: return 1
        }
    }

    /// Bytes per block.
    public var blockBytes: Int {
        switch self {
        case .q8_0: return 34       // f16 scale + 32 × int8
        case .q4_0: return 18       // f16 scale + 16 bytes of nibbles
        case .q4_1: return 20       // f16 scale + f16 min + 16 bytes of nibbles
        default: return size
        }
    }

    /// Bytes holding `n` elements, or nil when `n` is not a whole number of blocks or overflows.
    public func bytes(elements n: Int) -> Int? {
        guard n >= 0, n % blockSize == 0 else { return nil }
        let (b, o) = (n / blockSize).multipliedReportingOverflow(by: blockBytes)
        return o ? nil : b
    }

    /// Types a safetensors file may hold.
    public var isSafetensorsType: Bool { blockSize == 1 }

    /// Whether the matrix kernels can multiply weights of this type (FP8 e4m3 with block scales).
    public var isComputable: Bool {
        switch self {
        case .f32, .f16, .bf16, .f8e4m3, .q8_0, .q4_0, .q4_1: return true
        default: return false
        }
    }
}
