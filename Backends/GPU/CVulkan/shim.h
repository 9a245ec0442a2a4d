// The Vulkan API from the system's loader (libvulkan-dev), for the GPU backend's runtime.
#include <vulkan/vulkan.h>
