import KilnPTE
import KilnTensor
import Testing

/// DType ↔ ScalarType and element sizes.
@Suite struct ScalarTypeTests {
    @Test func everyDTypeRoundTrips() {
        for dtype in DType.allCases {
            let scalarType = PTE.ScalarType(dtype)
            #expect(DType(scalarType) == dtype)
            #expect(scalarType.elementSize == dtype.byteSize, "\(dtype)")
        }
    }

    @Test func wireValuesMatchExecuTorch() {
        #expect(PTE.ScalarType(.uint8).rawValue == 0)
        #expect(PTE.ScalarType(.int8).rawValue == 1)
        #expect(PTE.ScalarType(.int16).rawValue == 2)
        #expect(PTE.ScalarType(.int32).rawValue == 3)
        #expect(PTE.ScalarType(.int64).rawValue == 4)
        #expect(PTE.ScalarType(.float16).rawValue == 5)
        #expect(PTE.ScalarType(.float32).rawValue == 6)
        #expect(PTE.ScalarType(.bool).rawValue == 11)
        #expect(PTE.ScalarType(.bfloat16).rawValue == 15)
    }

    @Test func typesKilnLacksHaveNoDType() {
        let lacking: [PTE.ScalarType] = [.double, .qint8, .quint8, .qint32, .quint4x2, .quint2x4, .bits16, .float8e5m2,
                                         .float8e4m3fn, .float8e5m2fnuz, .float8e4m3fnuz, .uint16, .uint32, .uint64]
        for type in lacking { #expect(DType(type) == nil, "\(type)") }
        #expect(Set(lacking.map(\.rawValue)).union(DType.allCases.map { PTE.ScalarType($0).rawValue })
            == Set(PTE.ScalarType.allCases.map(\.rawValue)))
    }

    @Test func elementSizes() {
        let sizes: [PTE.ScalarType: Int] = [.double: 8, .uint64: 8, .qint32: 4, .uint32: 4, .bits16: 2, .uint16: 2,
                                            .quint4x2: 1, .float8e4m3fn: 1, .qint8: 1]
        for (type, size) in sizes { #expect(type.elementSize == size, "\(type)") }
    }
}
