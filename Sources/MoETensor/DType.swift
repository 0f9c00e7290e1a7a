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

    /// Bytes per element.
    public var size: Int {
        switch self {
        case .f8e4m3, .f8e5m2, .i8, .u8, .bool: return 1
        case .f16, .bf16, .i16, .u16: return 2
        case .f32, .i32, .u32: return 4
        case .f64, .i64, .u64: return 8
        }
    }

    /// Whether the matrix kernels can multiply weights of this type (FP8 e4m3 with block scales).
    public var isComputable: Bool {
        switch self {
        case .f32, .f16, .bf16, .f8e4m3: return true
        default: return false
        }
    }
}
