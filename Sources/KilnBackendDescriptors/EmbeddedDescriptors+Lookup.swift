extension EmbeddedDescriptors {
    /// The JSON of the descriptor at `path` (`Backends/XNNPACK/descriptor.json`), or nil.
    ///
    /// ```swift
    /// let json = EmbeddedDescriptors.json(at: "Backends/NPU/descriptor.json")!
    /// ```
    public static func json(at path: String) -> String? {
        all.first { $0.path == path }?.json
    }
}
