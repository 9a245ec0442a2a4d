import KilnOps
import KilnTensor

extension Method {
    /// Number of inputs.
    public var inputCount: Int { plan.inputs.count }

    /// The planned type of input `index`: dtype, sizes (bounds when dynamic), dynamism.
    /// - Throws: ``RuntimeError`` `.inputCount` for an index out of range.
    public func inputMeta(_ index: Int) throws(RuntimeError) -> TensorMeta {
        try checkIndex(index)
        return plan.meta(of: plan.inputs[index])
    }

    /// Sets input `index`: copies `tensor` into the input's planned memory, or, when the
    /// program leaves the input's memory to the caller, binds `tensor` itself.
    ///
    /// The dtype and dim order must match and the shape must be the planned one, or for a
    /// bounded-dynamic input (DYNAMIC_BOUND) have each size within its bound; then the shapes
    /// of the tensors downstream are derived again through each op's shape rule.
    ///
    /// ```swift
    /// try method.setInput(try Tensor(zeros: .float32, shape: [3, 4]), at: 0)   // f32[<=8, 4]
    /// ```
    /// - Throws: ``RuntimeError`` naming the input (`input 0 (%4): expected f32[1, 256], got
    ///   f32[1, 255]`): `.inputCount`, `.inputDType` or `.inputShape`; `.shape` when the new
    ///   shape does not fit the ops downstream (``execute()`` keeps failing until an input
    ///   shape fits). To resize several inputs together use ``setInputs(_:)``.
    public func setInput(_ tensor: Tensor, at index: Int) throws(RuntimeError) {
        try checkIndex(index)
        try check(tensor, at: index)
        let resized = try bind(tensor, at: index)
        try settle(resized: resized, after: "input \(index) (%\(plan.inputs[index])) became \(tensor)")
    }

    /// Sets every input at once (one tensor per input, in order), deriving shapes once after
    /// all are bound: use it to resize inputs whose sizes must agree.
    /// - Throws: as ``setInput(_:at:)``, and `.inputCount` for the wrong number of tensors.
    public func setInputs(_ inputs: [Tensor]) throws(RuntimeError) {
        guard inputs.count == plan.inputs.count else {
            let expected = plan.inputs.map { "%\($0): \(plan.meta(of: $0))" }.joined(separator: ", ")
            throw RuntimeError(.inputCount, "method \"\(name)\" takes \(plan.inputs.count) input"
                               + "\(plan.inputs.count == 1 ? "" : "s") (\(expected)), \(inputs.count) given",
                               path: program.path)
        }
        for (index, tensor) in inputs.enumerated() { try check(tensor, at: index) }
        var resized = false
        for (index, tensor) in inputs.enumerated() {
            resized = try bind(tensor, at: index) || resized
        }
        let shapes = inputs.map(\.description).joined(separator: ", ")
        try settle(resized: resized, after: "the inputs became \(shapes)")
    }

    private func checkIndex(_ index: Int) throws(RuntimeError) {
        guard index >= 0, index < plan.inputs.count else {
            throw RuntimeError(.inputCount, "input \(index) is out of range: method \"\(name)\" has "
                               + "\(plan.inputs.count) input\(plan.inputs.count == 1 ? "" : "s")", path: program.path)
        }
    }

    /// Checks `tensor` against input `index`'s planned type.
    private func check(_ tensor: Tensor, at index: Int) throws(RuntimeError) {
        let meta = plan.meta(of: plan.inputs[index])
        let subject = "input \(index) (%\(meta.valueIndex))"
        func fail(_ kind: RuntimeError.Kind, _ detail: String = "") -> RuntimeError {
            RuntimeError(kind, "\(subject): expected \(meta), got \(tensor)\(detail)", path: program.path)
        }
        guard tensor.dtype == meta.dtype else { throw fail(.inputDType) }
        guard tensor.rank == meta.rank else { throw fail(.inputShape) }
        if meta.isDynamic {
            for (axis, (size, bound)) in zip(tensor.shape, meta.sizes).enumerated() where size > bound {
                throw fail(.inputShape, " (dim \(axis) is \(size), beyond its bound \(bound))")
            }
        } else {
            guard tensor.shape == meta.sizes else { throw fail(.inputShape) }
        }
        guard tensor.dimOrder == meta.dimOrder else {
            throw fail(.inputShape, " with dim order \(tensor.dimOrder), expected dim order \(meta.dimOrder)")
        }
    }

    /// Puts `tensor` (already checked) in input `index`'s place.
    /// - Returns: true when the input's shape changed.
    private func bind(_ tensor: Tensor, at index: Int) throws(RuntimeError) -> Bool {
        let value = plan.inputs[index]
        let resized = tensor.shape != shapes[value]
        switch plan.tensor(value)?.memory {
        case .planned?:
            if resized {
                tensors[value] = try makeTensor(value, shape: tensor.shape)
                shapes[value] = tensor.shape
            }
            let destination = tensors[value].unsafeMutableRawBytes
            tensor.withUnsafeRawBytes { source in
                if let from = source.baseAddress, let to = destination.baseAddress {
                    to.copyMemory(from: from, byteCount: min(source.count, destination.count))
                }
            }
        case .unplanned?:
            var bound = tensor
            if !tensor.isAligned(to: max(tensor.dtype.byteSize, 1)) {
                do {
                    bound = try tensor.withUnsafeRawBytes { bytes in
                        try Tensor(dtype: tensor.dtype, shape: tensor.shape, dimOrder: tensor.dimOrder, copying: bytes)
                    }
                } catch {
                    throw RuntimeError(.inputShape, "input \(index) (%\(value)): cannot copy: \(error)", path: program.path)
                }
            }
            tensors[value] = bound
            shapes[value] = tensor.shape
            inputIsSet[index] = true
            needsPrepare = true
        case .constant?, nil:
            throw RuntimeError(.unsupported, "input \(index) (%\(value)) has no memory to set", path: program.path)
        }
        return resized
    }

    /// After inputs are bound: derives shapes when one changed (or an earlier derivation
    /// failed) and prepares the calls again when any view changed.
    private func settle(resized: Bool, after change: @autoclosure () -> String) throws(RuntimeError) {
        if resized || pendingShapeError != nil {
            do {
                try deriveShapes()
                pendingShapeError = nil
            } catch {
                var e = error
                e.message = "\(change()): \(e.message)"
                pendingShapeError = e
                throw e
            }
            needsPrepare = true
        }
        if needsPrepare {
            try prepare()
            needsPrepare = false
        }
    }

    /// Gives every KernelCall's out tensors the shapes the op's shape rule derives from the
    /// current input shapes (instructions in order), then views them at those shapes. Each
    /// new shape must have the planned rank and fit its bound (a static tensor must keep its
    /// shape). Out tensors of delegates and tensors no kernel writes keep their shapes.
    func deriveShapes() throws(RuntimeError) {
        var derived = shapes
        for (position, instruction) in plan.instructions.enumerated() {
            guard case .kernel(let k) = instruction else { continue }
            let typed = k.arguments.map { argument in
                argument.map { value in TensorType(plan.tensor(value)?.dtype ?? .float32, static: derived[value]) }
            }
            let results: [TensorType]
            do {
                results = try k.op.schema.inferTypes(typed)
            } catch {
                throw RuntimeError(.shape, "\(plan.infos[position]): \(error.description)", path: program.path)
            }
            for (out, result) in zip(k.outs, results) {
                guard let spec = plan.tensor(out) else { continue }
                guard spec.holds(result), let shape = result.staticShape else {
                    let planned = plan.meta(of: out)
                    throw RuntimeError(.shape, "\(plan.infos[position]): out tensor %\(out) would be \(result), "
                                       + "which does not fit its planned \(planned)", path: program.path)
                }
                derived[out] = shape
            }
        }
        for (value, shape) in derived.enumerated() where shape != shapes[value] && plan.tensor(value) != nil {
            if case .unplanned? = plan.tensor(value)?.memory, plan.inputs.contains(value) { continue }
            tensors[value] = try makeTensor(value, shape: shape)
        }
        shapes = derived
    }
}
