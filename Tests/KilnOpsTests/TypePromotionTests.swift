import KilnOps
import KilnTensor
import Testing

@Suite struct TypePromotionTests {
    /// PyTorch's `torch.promote_types` for the dtypes Kiln has.
    @Test(arguments: [
        // bool < integer < floating point
        (DType.bool, DType.bool, DType.bool),
        (.bool, .uint8, .uint8),
        (.bool, .int64, .int64),
        (.bool, .bfloat16, .bfloat16),
        (.int32, .float32, .float32),
        (.int64, .float16, .float16),
        (.uint8, .bfloat16, .bfloat16),
        // integers: the wider wins; uint8 with a signed type needs one that holds both
        (.int8, .int16, .int16),
        (.int16, .int32, .int32),
        (.int32, .int64, .int64),
        (.uint8, .int8, .int16),
        (.uint8, .int16, .int16),
        (.uint8, .int32, .int32),
        (.uint8, .int64, .int64),
        // floats: the wider wins; the two 16-bit formats meet in float32
        (.float16, .float32, .float32),
        (.bfloat16, .float32, .float32),
        (.float16, .bfloat16, .float32),
        (.float16, .float16, .float16),
    ])
    func promotes(_ a: DType, _ b: DType, to expected: DType) {
        #expect(promoteTypes(a, b) == expected)
        #expect(promoteTypes(b, a) == expected)
    }

    @Test func isSymmetricIdempotentAndNeverLosesCategory() {
        func category(_ t: DType) -> Int { t == .bool ? 0 : t.isInteger ? 1 : 2 }
        for a in DType.allCases {
            #expect(promoteTypes(a, a) == a)
            for b in DType.allCases {
                let c = promoteTypes(a, b)
                #expect(c == promoteTypes(b, a), "\(a), \(b)")
                #expect(category(c) == max(category(a), category(b)), "\(a), \(b) -> \(c)")
                #expect(c.byteSize >= min(a.byteSize, b.byteSize), "\(a), \(b) -> \(c)")
            }
        }
    }
}
