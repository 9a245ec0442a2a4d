import KilnTensor

extension Module {
    /// Loads weights by parameter path from a safetensors file (memory-mapped: the parameters
    /// borrow the file's bytes).
    ///
    /// ```swift
    /// let model = MLP()
    /// try model.load(safetensors: "mlp.safetensors")
    /// ```
    /// - Throws: ``CaptureError`` of kind `.safetensors` or `.io` for the file, `.load` naming
    ///   every missing, unexpected or mismatched tensor (dtype or shape, both given). Nothing
    ///   is assigned when anything is wrong.
    public func load(safetensors path: String) throws(CaptureError) {
        let file = try SafetensorsFile(path: path)
        try load(file.tensors, from: path)
    }

    /// Loads `weights` by parameter path (a state dict). Every persistent parameter must be
    /// given, with its dtype and shape; non-persistent buffers may be given.
    /// - Parameter source: names the weights in errors (a file path).
    /// - Throws: ``CaptureError`` of kind `.load` listing every problem; nothing is assigned then.
    public func load(_ weights: [String: Tensor], from source: String = "weights") throws(CaptureError) {
        let parameters = namedParameters()
        let known = Set(parameters.map(\.path))
        var problems: [String] = []
        for (path, parameter) in parameters {
            guard let tensor = weights[path] else {
                if parameter.isPersistent { problems.append("'\(path)' is missing (the model expects \(parameter.value))") }
                continue
            }
            if tensor.dtype != parameter.value.dtype || tensor.shape != parameter.value.shape {
                problems.append("'\(path)' is \(tensor), the model expects \(parameter.value)")
            }
        }
        for name in weights.keys.sorted() where !known.contains(name) {
            problems.append("'\(name)' is not a parameter of the model")
        }
        guard problems.isEmpty else {
            throw CaptureError(.load, problems.joined(separator: "; "), file: source)
        }
        for (path, parameter) in parameters {
            if let tensor = weights[path] { parameter.value = tensor }
        }
    }

    /// The persistent parameters and buffers by path: what ``load(_:from:)`` takes back.
    public func stateDict() -> [(name: String, tensor: Tensor)] {
        namedParameters().filter(\.parameter.isPersistent).map { ($0.path, $0.parameter.value) }
    }
}
