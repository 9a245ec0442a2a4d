#version 450
// f32 matrix product for few rows (M < 16, e.g. one token or one image): one invocation per
// output element, a plain loop over K with no shared memory or barriers (which the tiled
// matmul would spend on rows that do not exist). Same push constants as matmul.comp.
// Workgroup (x, y, z) = (64 columns, row, batch).
layout(local_size_x = 64) in;
layout(std430, set = 0, binding = 0) buffer Memory { float mem[]; };
layout(push_constant) uniform Push {
    uint M, N, K;
    uint a, b, c, bias;
    uint batch1;
    uint sa0, sa1, sam, sak;
    uint sb0, sb1, sbk, sbn;
    uint sc0, sc1;
    uint sbiasm, sbiasn;
    uint hasBias;
    float alpha, beta;
} p;

void main() {
    uint col = gl_WorkGroupID.x * 64u + gl_LocalInvocationID.x;
    uint row = gl_WorkGroupID.y;
    if (col >= p.N || row >= p.M) return;
    uint b0 = gl_WorkGroupID.z / p.batch1, b1 = gl_WorkGroupID.z % p.batch1;
    uint ai = p.a + b0 * p.sa0 + b1 * p.sa1 + row * p.sam;
    uint bi = p.b + b0 * p.sb0 + b1 * p.sb1 + col * p.sbn;
    float acc = 0.0;
    for (uint k = 0u; k < p.K; ++k) acc += mem[ai + k * p.sak] * mem[bi + k * p.sbk];
    float y = p.alpha * acc;
    if (p.hasBias != 0u) y += p.beta * mem[p.bias + row * p.sbiasm + col * p.sbiasn];
    mem[p.c + b0 * p.sc0 + b1 * p.sc1 + row * p.N + col] = y;
}
