import CVulkan

#if canImport(Glibc)
import Glibc
#endif

/// The process's one Vulkan instance and logical device: the first device with a compute queue
/// (a real GPU before a CPU implementation such as lavapipe), its queue, memory types and
/// limits. Made on first use; when there is no device, ``shared`` holds why.
///
/// ```swift
/// switch VulkanContext.shared {
/// case .success(let vk): print(vk.deviceName)
/// case .failure(let e): print("no GPU backend:", e.message)
/// }
/// ```
final class VulkanContext: @unchecked Sendable {
    /// The context, or why there is none.
    static let shared: Result<VulkanContext, GPURuntimeError> = {
        do throws(GPURuntimeError) { return .success(try VulkanContext()) } catch { return .failure(error) }
    }()

    let instance: VkInstance
    let physicalDevice: VkPhysicalDevice
    let device: VkDevice
    let queue: VkQueue
    let queueFamily: UInt32
    let memoryProperties: VkPhysicalDeviceMemoryProperties
    let limits: VkPhysicalDeviceLimits
    /// The device's name (`llvmpipe (LLVM 15.0.6, 256 bits)`, `NVIDIA H200`).
    let deviceName: String
    /// Serializes queue submissions (a VkQueue needs external synchronization).
    private let queueMutex = UnsafeMutablePointer<pthread_mutex_t>.allocate(capacity: 1)

    private init() throws(GPURuntimeError) {
        var app = VkApplicationInfo()
        app.sType = VK_STRUCTURE_TYPE_APPLICATION_INFO
        app.apiVersion = vkMakeVersion(1, 0, 0)
        var info = VkInstanceCreateInfo()
        info.sType = VK_STRUCTURE_TYPE_INSTANCE_CREATE_INFO
        var createdInstance: VkInstance?
        let result = withUnsafePointer(to: &app) { appPointer in
            info.pApplicationInfo = appPointer
            return vkCreateInstance(&info, nil, &createdInstance)
        }
        guard result == VK_SUCCESS, let instance = createdInstance else {
            throw GPURuntimeError(.unavailable, "no Vulkan instance (vkCreateInstance: \(vkName(result))); "
                                  + "install a Vulkan driver (mesa-vulkan-drivers gives lavapipe)")
        }
        var count: UInt32 = 0
        vkEnumeratePhysicalDevices(instance, &count, nil)
        var devices = [VkPhysicalDevice?](repeating: nil, count: Int(count))
        vkEnumeratePhysicalDevices(instance, &count, &devices)
        // Candidates with a compute queue, real GPUs first, each keeping enumeration order.
        var candidates: [(device: VkPhysicalDevice, family: UInt32, isCPU: Bool)] = []
        for case let d? in devices.prefix(Int(count)) {
            var familyCount: UInt32 = 0
            vkGetPhysicalDeviceQueueFamilyProperties(d, &familyCount, nil)
            var families = [VkQueueFamilyProperties](repeating: VkQueueFamilyProperties(), count: Int(familyCount))
            vkGetPhysicalDeviceQueueFamilyProperties(d, &familyCount, &families)
            guard let family = families.firstIndex(where: { $0.queueFlags & VK_QUEUE_COMPUTE_BIT.rawValue != 0 }) else { continue }
            // robustBufferAccess keeps a shader's out-of-range access inside its buffer: the
            // payload's push constants are not all checkable on the host, so it is required.
            var supported = VkPhysicalDeviceFeatures()
            vkGetPhysicalDeviceFeatures(d, &supported)
            guard supported.robustBufferAccess != 0 else { continue }
            var properties = VkPhysicalDeviceProperties()
            vkGetPhysicalDeviceProperties(d, &properties)
            candidates.append((d, UInt32(family), properties.deviceType == VK_PHYSICAL_DEVICE_TYPE_CPU))
        }
        guard let chosen = candidates.first(where: { !$0.isCPU }) ?? candidates.first else {
            vkDestroyInstance(instance, nil)
            throw GPURuntimeError(.unavailable, "no Vulkan device with a compute queue and robustBufferAccess "
                                  + "(\(count) devices found)")
        }
        var properties = VkPhysicalDeviceProperties()
        vkGetPhysicalDeviceProperties(chosen.device, &properties)
        var features = VkPhysicalDeviceFeatures()
        features.robustBufferAccess = VkBool32(VK_TRUE)
        var priority: Float = 1
        var queueInfo = VkDeviceQueueCreateInfo()
        queueInfo.sType = VK_STRUCTURE_TYPE_DEVICE_QUEUE_CREATE_INFO
        queueInfo.queueFamilyIndex = chosen.family
        queueInfo.queueCount = 1
        var createdDevice: VkDevice?
        let deviceResult = withUnsafePointer(to: &priority) { p in
            queueInfo.pQueuePriorities = p
            return withUnsafePointer(to: &queueInfo) { q in
                withUnsafePointer(to: &features) { f in
                    var deviceInfo = VkDeviceCreateInfo()
                    deviceInfo.sType = VK_STRUCTURE_TYPE_DEVICE_CREATE_INFO
                    deviceInfo.queueCreateInfoCount = 1
                    deviceInfo.pQueueCreateInfos = q
                    deviceInfo.pEnabledFeatures = f
                    return vkCreateDevice(chosen.device, &deviceInfo, nil, &createdDevice)
                }
            }
        }
        guard deviceResult == VK_SUCCESS, let device = createdDevice else {
            vkDestroyInstance(instance, nil)
            throw GPURuntimeError(.unavailable, "vkCreateDevice failed: \(vkName(deviceResult))")
        }
        var createdQueue: VkQueue?
        vkGetDeviceQueue(device, chosen.family, 0, &createdQueue)
        guard let queue = createdQueue else {
            vkDestroyDevice(device, nil)
            vkDestroyInstance(instance, nil)
            throw GPURuntimeError(.unavailable, "vkGetDeviceQueue returned no queue")
        }
        var memory = VkPhysicalDeviceMemoryProperties()
        vkGetPhysicalDeviceMemoryProperties(chosen.device, &memory)
        self.instance = instance
        self.physicalDevice = chosen.device
        self.device = device
        self.queue = queue
        self.queueFamily = chosen.family
        self.memoryProperties = memory
        self.limits = properties.limits
        self.deviceName = withUnsafeBytes(of: properties.deviceName) { raw in
            String(decoding: raw.prefix { $0 != 0 }, as: UTF8.self)
        }
        pthread_mutex_init(queueMutex, nil)
    }

    // The shared context lives for the whole process; the driver reclaims it at exit.

    /// Runs `body` holding the queue.
    func withQueue<T>(_ body: () throws -> T) rethrows -> T {
        pthread_mutex_lock(queueMutex)
        defer { pthread_mutex_unlock(queueMutex) }
        return try body()
    }

    /// A host-visible, coherent memory type for `bits` (device-local too when a heap that large
    /// has it), or nil.
    func hostVisibleMemoryType(bits: UInt32, size: UInt64) -> UInt32? {
        let visible = VK_MEMORY_PROPERTY_HOST_VISIBLE_BIT.rawValue | VK_MEMORY_PROPERTY_HOST_COHERENT_BIT.rawValue
        let preferences = [visible | VK_MEMORY_PROPERTY_DEVICE_LOCAL_BIT.rawValue,
                           visible | VK_MEMORY_PROPERTY_HOST_CACHED_BIT.rawValue, visible]
        let types = withUnsafeBytes(of: memoryProperties.memoryTypes) { Array($0.bindMemory(to: VkMemoryType.self)) }
        let heaps = withUnsafeBytes(of: memoryProperties.memoryHeaps) { Array($0.bindMemory(to: VkMemoryHeap.self)) }
        for wanted in preferences {
            for i in 0..<Int(memoryProperties.memoryTypeCount) where bits & (1 << UInt32(i)) != 0 {
                let t = types[i]
                if t.propertyFlags & wanted == wanted, heaps[Int(t.heapIndex)].size >= size { return UInt32(i) }
            }
        }
        return nil
    }
}

/// `VK_MAKE_API_VERSION(0, major, minor, patch)`.
func vkMakeVersion(_ major: UInt32, _ minor: UInt32, _ patch: UInt32) -> UInt32 {
    (major << 22) | (minor << 12) | patch
}

/// A VkResult as its name, for messages.
func vkName(_ result: VkResult) -> String {
    switch result {
    case VK_SUCCESS: return "VK_SUCCESS"
    case VK_TIMEOUT: return "VK_TIMEOUT"
    case VK_ERROR_OUT_OF_HOST_MEMORY: return "VK_ERROR_OUT_OF_HOST_MEMORY"
    case VK_ERROR_OUT_OF_DEVICE_MEMORY: return "VK_ERROR_OUT_OF_DEVICE_MEMORY"
    case VK_ERROR_INITIALIZATION_FAILED: return "VK_ERROR_INITIALIZATION_FAILED"
    case VK_ERROR_DEVICE_LOST: return "VK_ERROR_DEVICE_LOST"
    case VK_ERROR_INCOMPATIBLE_DRIVER: return "VK_ERROR_INCOMPATIBLE_DRIVER"
    case VK_ERROR_LAYER_NOT_PRESENT: return "VK_ERROR_LAYER_NOT_PRESENT"
    case VK_ERROR_EXTENSION_NOT_PRESENT: return "VK_ERROR_EXTENSION_NOT_PRESENT"
    case VK_ERROR_FEATURE_NOT_PRESENT: return "VK_ERROR_FEATURE_NOT_PRESENT"
    case VK_ERROR_TOO_MANY_OBJECTS: return "VK_ERROR_TOO_MANY_OBJECTS"
    case VK_ERROR_MEMORY_MAP_FAILED: return "VK_ERROR_MEMORY_MAP_FAILED"
    default: return "VkResult \(result.rawValue)"
    }
}

/// Throws `.vulkan` naming `call` unless `result` is VK_SUCCESS.
@inline(__always)
func vkCheck(_ result: VkResult, _ call: String) throws(GPURuntimeError) {
    guard result == VK_SUCCESS else { throw GPURuntimeError(.vulkan, "\(call) failed: \(vkName(result))") }
}
