#version 450
// f32 layer norm and RMS norm over the last `len` elements of each row: one workgroup per
// row, sums reduced in shared memory; optional weight and bias over the normalized elements,
// and (layer norm) the row's mean and 1/std written out when asked.
layout(local_size_x = 256) in;
layout(std430, set = 0, binding = 0) buffer Memory { float mem[]; };
layout(push_constant) uniform Push {
    uint rows, len;
    uint src, dst, weight, bias, mean, rstd;   // offsets in floats
    uint flags;                                // 1 weight, 2 bias, 4 write mean and rstd
    uint rms;                                  // 1: RMS norm, 0: layer norm
    float eps;
} p;

shared float partial[256];

float reduceSum(float v) {
    uint t = gl_LocalInvocationID.x;
    partial[t] = v;
    barrier();
    for (uint s = 128u; s > 0u; s >>= 1) {
        if (t < s) partial[t] += partial[t + s];
        barrier();
    }
    float total = partial[0];
    barrier();
    return total;
}

void main() {
    uint row = gl_WorkGroupID.y * gl_NumWorkGroups.x + gl_WorkGroupID.x;
    if (row >= p.rows) return;
    uint t = gl_LocalInvocationID.x;
    uint base = row * p.len;
    float mu = 0.0;
    if (p.rms == 0u) {
        float s = 0.0;
        for (uint k = t; k < p.len; k += 256u) s += mem[p.src + base + k];
        mu = reduceSum(s) / float(p.len);
    }
    float s2 = 0.0;
    for (uint k = t; k < p.len; k += 256u) {
        float d = mem[p.src + base + k] - mu;
        s2 += d * d;
    }
    float r = inversesqrt(reduceSum(s2) / float(p.len) + p.eps);
    for (uint k = t; k < p.len; k += 256u) {
        float y = (mem[p.src + base + k] - mu) * r;
        if ((p.flags & 1u) != 0u) y *= mem[p.weight + k];
        if ((p.flags & 2u) != 0u) y += mem[p.bias + k];
        mem[p.dst + base + k] = y;
    }
    if ((p.flags & 4u) != 0u && t == 0u) {
        mem[p.mean + row] = mu;
        mem[p.rstd + row] = r;
    }
}
