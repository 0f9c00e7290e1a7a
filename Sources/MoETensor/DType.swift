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
    case q5_0 = "Q5_0"
    case q5_1 = "Q5_1"
    case q2_K = "Q2_K"
    case q3_K = "Q3_K"
    case q4_K = "Q4_K"
    case q5_K = "Q5_K"
    case q6_K = "Q6_K"
    case mxfp4 = "MXFP4"

    /// Bytes per element of a plain type (0 for block-quantised ones: use `bytes(elements:)`).
    public var size: Int {
        switch self {
        case .f8e4m3, .f8e5m2, .i8, .u8, .bool: return 1
        case .f16, .bf16, .i16, .u16: return 2
        case .f32, .i32, .u32: return 4
        case .f64, .i64, .u64: return 8
        case .q8_0, .q4_0, .q4_1, .q5_0, .q5_1, .q2_K, .q3_K, .q4_K, .q5_K, .q6_K, .mxfp4: return 0
        }
    }

    /// Elements per block: 32 for the GGML quantised types, 256 for the K-quants, 1 otherwise.
    public var blockSize: Int {
        switch self {
        case .q8_0, .q4_0, .q4_1, .q5_0, .q5_1, .mxfp4: return 32
        case .q2_K, .q3_K, .q4_K, .q5_K, .q6_K: return 256
        default: return 1
        }
    }

    /// The GGML type code (as in GGUF) of the types a GGUF tensor can hold, -1 for the others: the one
    /// mapping between DType and GGUF codes (`GGMLType.dtype` reads it backwards).
    public var ggmlCode: Int32 {
        switch self {
        case .f32: return 0
        case .f16: return 1
        case .q4_0: return 2
        case .q4_1: return 3
        case .q5_0: return 6
        case .q5_1: return 7
        case .q8_0: return 8
        case .q2_K: return 10
        case .q3_K: return 11
        case .q4_K: return 12
        case .q5_K: return 13
        case .q6_K: return 14
        case .bf16: return 30
        case .mxfp4: return 39
        default: return -1
        }
    }

    /// Whether this is a GGML block-quantised type.
    public var isBlockQuantized: Bool { blockSize > 1 }

    /// Bytes per block.
    public var blockBytes: Int {
        switch self {
        case .q8_0: return 34       // f16 scale + 32 × int8
        case .q4_0: return 18       // f16 scale + 16 bytes of nibbles
        case .q4_1: return 20       // f16 scale + f16 min + 16 bytes of nibbles
        case .q5_0: return 22       // f16 scale + 32 high bits + 16 bytes of nibbles
        case .q5_1: return 24       // f16 scale + f16 min + 32 high bits + nibbles
        case .mxfp4: return 17      // e8m0 exponent + 16 bytes of e2m1 nibbles
        case .q2_K: return 84       // 16 scale/min bytes, 64 bytes of 2-bit values, f16 d, f16 dmin
        case .q3_K: return 110      // 32 high-bit bytes, 64 bytes of 2-bit values, 12 scale bytes, f16 d
        case .q4_K: return 144      // f16 d, f16 dmin, 12 scale bytes, 128 bytes of nibbles
        case .q5_K: return 176      // as Q4_K plus 32 high-bit bytes
        case .q6_K: return 210      // 128 low-nibble bytes, 64 high-bit bytes, 16 int8 scales, f16 d
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
        case .f32, .f16, .bf16, .f8e4m3: return true
        default: return isBlockQuantized
        }
    }
}
