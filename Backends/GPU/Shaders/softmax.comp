#version 450
// f32 softmax along one dim: one workgroup per row, where row r = (outer o, inner j) reads the
// elements o * len * inner + k * inner + j for k < len; max and sum reduced in shared memory.
layout(local_size_x = 256) in;
layout(std430, set = 0, binding = 0) buffer Memory { float mem[]; };
layout(push_constant) uniform Push {
    uint rows, len, inner;
    uint src, dst;   // offsets in floats
    uint logSoftmax; // 1: log_softmax
} p;

shared float partial[256];

void main() {
    uint row = gl_WorkGroupID.y * gl_NumWorkGroups.x + gl_WorkGroupID.x;
    if (row >= p.rows) return;
    uint t = gl_LocalInvocationID.x;
    uint base = (row / p.inner) * p.len * p.inner + row % p.inner;
    float m = -1.0 / 0.0;
    for (uint k = t; k < p.len; k += 256u) m = max(m, mem[p.src + base + k * p.inner]);
    partial[t] = m;
    barrier();
    for (uint s = 128u; s > 0u; s >>= 1) {
        if (t < s) partial[t] = max(partial[t], partial[t + s]);
        barrier();
    }
    m = partial[0];
    barrier();
    float sum = 0.0;
    for (uint k = t; k < p.len; k += 256u) sum += exp(mem[p.src + base + k * p.inner] - m);
    partial[t] = sum;
    barrier();
    for (uint s = 128u; s > 0u; s >>= 1) {
        if (t < s) partial[t] += partial[t + s];
        barrier();
    }
    sum = partial[0];
    for (uint k = t; k < p.len; k += 256u) {
        float x = mem[p.src + base + k * p.inner] - m;
        mem[p.dst + base + k * p.inner] = p.logSoftmax != 0u ? x - log(sum) : exp(x) / sum;
    }
}
