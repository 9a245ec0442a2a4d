import CVulkan

#if canImport(Glibc)
import Glibc
#endif

/// One GPU delegate ready to run: its device buffer (host-visible, mapped once) with the weights
/// uploaded, a compute pipeline per shader, one descriptor set, and one command buffer recorded
/// at initialize with every dispatch and the barriers between them. ``run(inputs:outputs:)``
/// copies inputs in, submits that command buffer, waits on a fence and copies outputs out.
///
/// ```swift
/// let exe = try GPUExecutable(payload: payloadBytes, weights: { key in weightsByKey[key] })
/// try exe.run(inputs: [x.bytes], outputs: [y.mutableBytes])
/// ```
public final class GPUExecutable: @unchecked Sendable {
    /// The decoded payload.
    public let payload: GPUPayload
    let vk: VulkanContext
    private var buffer: VkBuffer?
    private var memory: VkDeviceMemory?
    private var mapped: UnsafeMutableRawPointer?
    private var modules: [VkShaderModule?] = []
    private var pipelines: [VkPipeline?] = []
    private var setLayout: VkDescriptorSetLayout?
    private var pipelineLayout: VkPipelineLayout?
    private var descriptorPool: VkDescriptorPool?
    private var descriptorSet: VkDescriptorSet?
    private var commandPool: VkCommandPool?
    private var commandBuffer: VkCommandBuffer?
    private var fence: VkFence?

    /// Builds the Vulkan objects for a payload and uploads its weights.
    ///
    /// - Parameters:
    ///   - payload: the bytes `GPUCompiler` wrote.
    ///   - weights: the program's named data by key (nil when there is none).
    /// - Throws: ``GPURuntimeError``: `.unavailable` without a device, `.invalidPayload` for a
    ///   malformed payload or one past the device's limits, `.missingWeight`, `.vulkan`.
    public convenience init(payload bytes: UnsafeRawBufferPointer,
                            weights: (String) throws -> UnsafeRawBufferPointer?) throws {
        let vk = try VulkanContext.shared.get()
        try self.init(payload: try GPUPayload(decoding: bytes), context: vk, weights: weights)
    }

    init(payload: GPUPayload, context vk: VulkanContext, weights: (String) throws -> UnsafeRawBufferPointer?) throws {
        self.payload = payload
        self.vk = vk
        try checkLimits()
        try createMemory()
        for (i, w) in payload.weights.enumerated() {
            guard let data = try weights(w.key) else {
                throw GPURuntimeError(.missingWeight, "weights[\(i)]: the program has no named data '\(w.key)'")
            }
            guard data.count == w.region.size else {
                throw GPURuntimeError(.missingWeight, "weights[\(i)]: named data '\(w.key)' has \(data.count) bytes, "
                                      + "the payload expects \(w.region.size)")
            }
            if let base = data.baseAddress, let mapped { memcpy(mapped + w.region.offset, base, data.count) }
        }
        try createPipelines()
        try createDescriptorSet()
        try recordCommands()
    }

    deinit {
        let d = vk.device
        if let fence { vkDestroyFence(d, fence, nil) }
        if let commandPool { vkDestroyCommandPool(d, commandPool, nil) }
        if let descriptorPool { vkDestroyDescriptorPool(d, descriptorPool, nil) }
        for p in pipelines { if let p { vkDestroyPipeline(d, p, nil) } }
        for m in modules { if let m { vkDestroyShaderModule(d, m, nil) } }
        if let pipelineLayout { vkDestroyPipelineLayout(d, pipelineLayout, nil) }
        if let setLayout { vkDestroyDescriptorSetLayout(d, setLayout, nil) }
        if mapped != nil, let memory { vkUnmapMemory(d, memory) }
        if let buffer { vkDestroyBuffer(d, buffer, nil) }
        if let memory { vkFreeMemory(d, memory, nil) }
    }

    /// Copies `inputs` into their regions, runs every dispatch, and copies the outputs out.
    /// Allocation-free.
    ///
    /// - Throws: ``GPURuntimeError`` `.arguments` when a count or byte size differs from the
    ///   payload's, `.vulkan` when the submission fails.
    public func run(inputs: [UnsafeRawBufferPointer], outputs: [UnsafeMutableRawBufferPointer]) throws(GPURuntimeError) {
        try copyIn(count: inputs.count, { inputs[$0] })
        try submit()
        try copyOut(count: outputs.count, { outputs[$0] })
    }

    /// Copies input `i` (for `i` below `count`) from `source(i)` into its region.
    func copyIn(count: Int, _ source: (Int) -> UnsafeRawBufferPointer) throws(GPURuntimeError) {
        guard count == payload.inputs.count, let mapped else {
            throw GPURuntimeError(.arguments, "\(count) inputs given, the delegate takes \(payload.inputs.count)")
        }
        for i in 0..<count {
            let region = payload.inputs[i], bytes = source(i)
            guard bytes.count == region.size else {
                throw GPURuntimeError(.arguments, "input \(i) has \(bytes.count) bytes, the delegate expects \(region.size)")
            }
            if let base = bytes.baseAddress { memcpy(mapped + region.offset, base, region.size) }
        }
    }

    /// Copies output `i` from its region into `destination(i)`.
    func copyOut(count: Int, _ destination: (Int) -> UnsafeMutableRawBufferPointer) throws(GPURuntimeError) {
        guard count == payload.outputs.count, let mapped else {
            throw GPURuntimeError(.arguments, "\(count) outputs given, the delegate returns \(payload.outputs.count)")
        }
        for i in 0..<count {
            let region = payload.outputs[i], bytes = destination(i)
            guard bytes.count == region.size else {
                throw GPURuntimeError(.arguments, "output \(i) has \(bytes.count) bytes, the delegate writes \(region.size)")
            }
            if let base = bytes.baseAddress { memcpy(base, mapped + region.offset, region.size) }
        }
    }

    /// How long ``submit()`` waits for the GPU.
    static let fenceTimeoutNanoseconds: UInt64 = 60_000_000_000

    /// Submits the recorded command buffer and waits for it (at most ``fenceTimeoutNanoseconds``).
    func submit() throws(GPURuntimeError) {
        var info = VkSubmitInfo()
        info.sType = VK_STRUCTURE_TYPE_SUBMIT_INFO
        info.commandBufferCount = 1
        let result: VkResult = withUnsafePointer(to: &commandBuffer) { cb in
            info.pCommandBuffers = cb
            return vk.withQueue { vkQueueSubmit(vk.queue, 1, &info, fence) }
        }
        try vkCheck(result, "vkQueueSubmit")
        // A bounded wait: loop bounds from a malformed payload must not hang the process.
        let waited = vkWaitForFences(vk.device, 1, &fence, VK_TRUE, Self.fenceTimeoutNanoseconds)
        guard waited != VK_TIMEOUT else {
            throw GPURuntimeError(.vulkan, "the GPU did not finish the delegate within "
                                  + "\(Self.fenceTimeoutNanoseconds / 1_000_000_000) s; the payload's sizes may be wrong")
        }
        try vkCheck(waited, "vkWaitForFences")
        try vkCheck(vkResetFences(vk.device, 1, &fence), "vkResetFences")
    }

    // MARK: - Initialization steps

    private func checkLimits() throws(GPURuntimeError) {
        let limits = vk.limits
        guard UInt64(payload.memorySize) <= UInt64(limits.maxStorageBufferRange) else {
            throw GPURuntimeError(.invalidPayload, "memory_size \(payload.memorySize) exceeds the device's storage buffer "
                                  + "range (\(limits.maxStorageBufferRange) bytes)")
        }
        guard limits.maxPushConstantsSize >= UInt32(GPUPayload.maxPushWords * 4) else {
            throw GPURuntimeError(.invalidPayload, "the device has \(limits.maxPushConstantsSize) bytes of push constants, "
                                  + "the backend needs \(GPUPayload.maxPushWords * 4)")
        }
        let maxGroups = withUnsafeBytes(of: limits.maxComputeWorkGroupCount) { Array($0.bindMemory(to: UInt32.self)) }
        for (i, d) in payload.dispatches.enumerated() {
            for axis in 0..<3 where d.groups[axis] > maxGroups[axis] {
                throw GPURuntimeError(.invalidPayload, "dispatches[\(i)] has \(d.groups[axis]) workgroups on axis \(axis), "
                                      + "the device allows \(maxGroups[axis])")
            }
        }
    }

    private func createMemory() throws(GPURuntimeError) {
        let d = vk.device
        var info = VkBufferCreateInfo()
        info.sType = VK_STRUCTURE_TYPE_BUFFER_CREATE_INFO
        info.size = VkDeviceSize(payload.memorySize)
        info.usage = VK_BUFFER_USAGE_STORAGE_BUFFER_BIT.rawValue
        info.sharingMode = VK_SHARING_MODE_EXCLUSIVE
        try vkCheck(vkCreateBuffer(d, &info, nil, &buffer), "vkCreateBuffer")
        var requirements = VkMemoryRequirements()
        vkGetBufferMemoryRequirements(d, buffer, &requirements)
        guard let type = vk.hostVisibleMemoryType(bits: requirements.memoryTypeBits, size: requirements.size) else {
            throw GPURuntimeError(.vulkan, "the device has no host-visible memory for a \(requirements.size)-byte buffer")
        }
        var allocation = VkMemoryAllocateInfo()
        allocation.sType = VK_STRUCTURE_TYPE_MEMORY_ALLOCATE_INFO
        allocation.allocationSize = requirements.size
        allocation.memoryTypeIndex = type
        try vkCheck(vkAllocateMemory(d, &allocation, nil, &memory), "vkAllocateMemory")
        try vkCheck(vkBindBufferMemory(d, buffer, memory, 0), "vkBindBufferMemory")
        try vkCheck(vkMapMemory(d, memory, 0, VkDeviceSize(VK_WHOLE_SIZE), 0, &mapped), "vkMapMemory")
        if let mapped { memset(mapped, 0, payload.memorySize) }
    }

    private func createPipelines() throws(GPURuntimeError) {
        let d = vk.device
        var binding = VkDescriptorSetLayoutBinding()
        binding.binding = 0
        binding.descriptorType = VK_DESCRIPTOR_TYPE_STORAGE_BUFFER
        binding.descriptorCount = 1
        binding.stageFlags = VK_SHADER_STAGE_COMPUTE_BIT.rawValue
        var layoutInfo = VkDescriptorSetLayoutCreateInfo()
        layoutInfo.sType = VK_STRUCTURE_TYPE_DESCRIPTOR_SET_LAYOUT_CREATE_INFO
        layoutInfo.bindingCount = 1
        let layoutResult = withUnsafePointer(to: &binding) { b in
            layoutInfo.pBindings = b
            return vkCreateDescriptorSetLayout(d, &layoutInfo, nil, &setLayout)
        }
        try vkCheck(layoutResult, "vkCreateDescriptorSetLayout")
        var range = VkPushConstantRange()
        range.stageFlags = VK_SHADER_STAGE_COMPUTE_BIT.rawValue
        range.offset = 0
        range.size = UInt32(GPUPayload.maxPushWords * 4)
        var pipelineLayoutInfo = VkPipelineLayoutCreateInfo()
        pipelineLayoutInfo.sType = VK_STRUCTURE_TYPE_PIPELINE_LAYOUT_CREATE_INFO
        pipelineLayoutInfo.setLayoutCount = 1
        pipelineLayoutInfo.pushConstantRangeCount = 1
        let pipelineLayoutResult = withUnsafePointer(to: &setLayout) { s in
            withUnsafePointer(to: &range) { r in
                pipelineLayoutInfo.pSetLayouts = s
                pipelineLayoutInfo.pPushConstantRanges = r
                return vkCreatePipelineLayout(d, &pipelineLayoutInfo, nil, &pipelineLayout)
            }
        }
        try vkCheck(pipelineLayoutResult, "vkCreatePipelineLayout")
        for name in payload.shaders {
            guard let words = GPUShaderLibrary.spirv(name) else {
                throw GPURuntimeError(.invalidPayload, "no shader named '\(name)'")
            }
            var module: VkShaderModule?
            let moduleResult = words.withUnsafeBufferPointer { code in
                var info = VkShaderModuleCreateInfo()
                info.sType = VK_STRUCTURE_TYPE_SHADER_MODULE_CREATE_INFO
                info.codeSize = code.count * 4
                info.pCode = code.baseAddress
                return vkCreateShaderModule(d, &info, nil, &module)
            }
            try vkCheck(moduleResult, "vkCreateShaderModule (\(name))")
            modules.append(module)
            var pipeline: VkPipeline?
            let pipelineResult = "main".withCString { entry in
                var info = VkComputePipelineCreateInfo()
                info.sType = VK_STRUCTURE_TYPE_COMPUTE_PIPELINE_CREATE_INFO
                info.stage.sType = VK_STRUCTURE_TYPE_PIPELINE_SHADER_STAGE_CREATE_INFO
                info.stage.stage = VK_SHADER_STAGE_COMPUTE_BIT
                info.stage.module = module
                info.stage.pName = entry
                info.layout = pipelineLayout
                return vkCreateComputePipelines(d, nil, 1, &info, nil, &pipeline)
            }
            try vkCheck(pipelineResult, "vkCreateComputePipelines (\(name))")
            pipelines.append(pipeline)
        }
    }

    private func createDescriptorSet() throws(GPURuntimeError) {
        let d = vk.device
        var size = VkDescriptorPoolSize()
        size.type = VK_DESCRIPTOR_TYPE_STORAGE_BUFFER
        size.descriptorCount = 1
        var poolInfo = VkDescriptorPoolCreateInfo()
        poolInfo.sType = VK_STRUCTURE_TYPE_DESCRIPTOR_POOL_CREATE_INFO
        poolInfo.maxSets = 1
        poolInfo.poolSizeCount = 1
        let poolResult = withUnsafePointer(to: &size) { s in
            poolInfo.pPoolSizes = s
            return vkCreateDescriptorPool(d, &poolInfo, nil, &descriptorPool)
        }
        try vkCheck(poolResult, "vkCreateDescriptorPool")
        var allocation = VkDescriptorSetAllocateInfo()
        allocation.sType = VK_STRUCTURE_TYPE_DESCRIPTOR_SET_ALLOCATE_INFO
        allocation.descriptorPool = descriptorPool
        allocation.descriptorSetCount = 1
        let allocationResult = withUnsafePointer(to: &setLayout) { s in
            allocation.pSetLayouts = s
            return vkAllocateDescriptorSets(d, &allocation, &descriptorSet)
        }
        try vkCheck(allocationResult, "vkAllocateDescriptorSets")
        var bufferInfo = VkDescriptorBufferInfo()
        bufferInfo.buffer = buffer
        bufferInfo.offset = 0
        bufferInfo.range = VkDeviceSize(VK_WHOLE_SIZE)
        withUnsafePointer(to: &bufferInfo) { b in
            var write = VkWriteDescriptorSet()
            write.sType = VK_STRUCTURE_TYPE_WRITE_DESCRIPTOR_SET
            write.dstSet = descriptorSet
            write.dstBinding = 0
            write.descriptorCount = 1
            write.descriptorType = VK_DESCRIPTOR_TYPE_STORAGE_BUFFER
            write.pBufferInfo = b
            vkUpdateDescriptorSets(d, 1, &write, 0, nil)
        }
    }

    private func recordCommands() throws(GPURuntimeError) {
        let d = vk.device
        var poolInfo = VkCommandPoolCreateInfo()
        poolInfo.sType = VK_STRUCTURE_TYPE_COMMAND_POOL_CREATE_INFO
        poolInfo.queueFamilyIndex = vk.queueFamily
        try vkCheck(vkCreateCommandPool(d, &poolInfo, nil, &commandPool), "vkCreateCommandPool")
        var allocation = VkCommandBufferAllocateInfo()
        allocation.sType = VK_STRUCTURE_TYPE_COMMAND_BUFFER_ALLOCATE_INFO
        allocation.commandPool = commandPool
        allocation.level = VK_COMMAND_BUFFER_LEVEL_PRIMARY
        allocation.commandBufferCount = 1
        try vkCheck(vkAllocateCommandBuffers(d, &allocation, &commandBuffer), "vkAllocateCommandBuffers")
        var begin = VkCommandBufferBeginInfo()
        begin.sType = VK_STRUCTURE_TYPE_COMMAND_BUFFER_BEGIN_INFO
        try vkCheck(vkBeginCommandBuffer(commandBuffer, &begin), "vkBeginCommandBuffer")
        let cb = commandBuffer
        let compute = VK_PIPELINE_STAGE_COMPUTE_SHADER_BIT.rawValue
        let shaderRW = VK_ACCESS_SHADER_READ_BIT.rawValue | VK_ACCESS_SHADER_WRITE_BIT.rawValue
        // Host writes (inputs) before the first dispatch.
        memoryBarrier(cb, from: VK_PIPELINE_STAGE_HOST_BIT.rawValue, VK_ACCESS_HOST_WRITE_BIT.rawValue, to: compute, shaderRW)
        withUnsafePointer(to: &descriptorSet) { set in
            vkCmdBindDescriptorSets(cb, VK_PIPELINE_BIND_POINT_COMPUTE, pipelineLayout, 0, 1, set, 0, nil)
        }
        var bound = -1
        for (i, dispatch) in payload.dispatches.enumerated() {
            if i > 0 { memoryBarrier(cb, from: compute, VK_ACCESS_SHADER_WRITE_BIT.rawValue, to: compute, shaderRW) }
            if dispatch.shader != bound {
                vkCmdBindPipeline(cb, VK_PIPELINE_BIND_POINT_COMPUTE, pipelines[dispatch.shader])
                bound = dispatch.shader
            }
            // Unused words are zero, so every dispatch pushes the whole range.
            var words = dispatch.push + [UInt32](repeating: 0, count: GPUPayload.maxPushWords - dispatch.push.count)
            vkCmdPushConstants(cb, pipelineLayout, VK_SHADER_STAGE_COMPUTE_BIT.rawValue, 0, UInt32(words.count * 4), &words)
            vkCmdDispatch(cb, dispatch.groups[0], dispatch.groups[1], dispatch.groups[2])
        }
        // Shader writes (outputs) before the host reads them.
        memoryBarrier(cb, from: compute, VK_ACCESS_SHADER_WRITE_BIT.rawValue,
                      to: VK_PIPELINE_STAGE_HOST_BIT.rawValue, VK_ACCESS_HOST_READ_BIT.rawValue)
        try vkCheck(vkEndCommandBuffer(cb), "vkEndCommandBuffer")
        var fenceInfo = VkFenceCreateInfo()
        fenceInfo.sType = VK_STRUCTURE_TYPE_FENCE_CREATE_INFO
        try vkCheck(vkCreateFence(d, &fenceInfo, nil, &fence), "vkCreateFence")
    }

    private func memoryBarrier(_ cb: VkCommandBuffer?, from srcStage: UInt32, _ srcAccess: UInt32,
                               to dstStage: UInt32, _ dstAccess: UInt32) {
        var barrier = VkMemoryBarrier()
        barrier.sType = VK_STRUCTURE_TYPE_MEMORY_BARRIER
        barrier.srcAccessMask = srcAccess
        barrier.dstAccessMask = dstAccess
        vkCmdPipelineBarrier(cb, srcStage, dstStage, 0, 1, &barrier, 0, nil, 0, nil)
    }
}
