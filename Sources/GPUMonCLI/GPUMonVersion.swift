/// The version printed by `gpumon --version`.
enum GPUMonVersion {
    static let current = "0.1.0"
}
