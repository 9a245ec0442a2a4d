#version 450
// Strided 4-D copy: dst[dst + sum(i_k * ds_k)] = mem[src + sum(i_k * ss_k)] over the index space
// d0 x d1 x d2 x d3. Serves permute / transpose, slice, concat (one dispatch per input) and
// reshape when it cannot alias.
layout(local_size_x = 256) in;
layout(std430, set = 0, binding = 0) buffer Memory { float mem[]; };
layout(push_constant) uniform Push {
    uint n;                    // elements
    uint src;                  // offsets in floats
    uint dst;
    uint d1, d2, d3;           // index space dims 1..3
    uint ss0, ss1, ss2, ss3;   // source strides
    uint ds0, ds1, ds2, ds3;   // destination strides
} p;

void main() {
    uint i = (gl_WorkGroupID.y * gl_NumWorkGroups.x + gl_WorkGroupID.x) * 256u + gl_LocalInvocationID.x;
    if (i >= p.n) return;
    uint i3 = i % p.d3;
    uint r = i / p.d3;
    uint i2 = r % p.d2;
    r /= p.d2;
    uint i1 = r % p.d1;
    uint i0 = r / p.d1;
    mem[p.dst + i0 * p.ds0 + i1 * p.ds1 + i2 * p.ds2 + i3 * p.ds3] =
        mem[p.src + i0 * p.ss0 + i1 * p.ss1 + i2 * p.ss2 + i3 * p.ss3];
}
