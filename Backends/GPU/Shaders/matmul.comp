#version 450
// Tiled f32 matrix product with shared memory: for each batch (b0, b1),
// C[m, n] = alpha * sum_k A[m, k] * B[k, n] + beta * bias[m, n]. A, B and the bias are read
// through strides (a transposed weight or a broadcast batch is a stride), C is row-major.
// Workgroup (x, y, z) = (column tile, row tile, batch).
#define TILE 16
layout(local_size_x = TILE, local_size_y = TILE) in;
layout(std430, set = 0, binding = 0) buffer Memory { float mem[]; };
layout(push_constant) uniform Push {
    uint M, N, K;
    uint a, b, c, bias;          // offsets in floats
    uint batch1;                 // inner batch count (z = b0 * batch1 + b1)
    uint sa0, sa1, sam, sak;     // A strides: batch 0, batch 1, row, column
    uint sb0, sb1, sbk, sbn;     // B strides
    uint sc0, sc1;               // C batch strides (rows are N apart)
    uint sbiasm, sbiasn;         // bias strides over [M, N]
    uint hasBias;
    float alpha, beta;
} p;

shared float tileA[TILE][TILE];
shared float tileB[TILE][TILE];

void main() {
    uint tx = gl_LocalInvocationID.x, ty = gl_LocalInvocationID.y;
    uint col = gl_WorkGroupID.x * TILE + tx;
    uint row = gl_WorkGroupID.y * TILE + ty;
    uint b0 = gl_WorkGroupID.z / p.batch1, b1 = gl_WorkGroupID.z % p.batch1;
    uint aBase = p.a + b0 * p.sa0 + b1 * p.sa1;
    uint bBase = p.b + b0 * p.sb0 + b1 * p.sb1;
    float acc = 0.0;
    for (uint k0 = 0u; k0 < p.K; k0 += TILE) {
        uint ka = k0 + tx, kb = k0 + ty;
        tileA[ty][tx] = (row < p.M && ka < p.K) ? mem[aBase + row * p.sam + ka * p.sak] : 0.0;
        tileB[ty][tx] = (kb < p.K && col < p.N) ? mem[bBase + kb * p.sbk + col * p.sbn] : 0.0;
        barrier();
        for (uint k = 0u; k < TILE; ++k) acc += tileA[ty][k] * tileB[k][tx];
        barrier();
    }
    if (row >= p.M || col >= p.N) return;
    float y = p.alpha * acc;
    if (p.hasBias != 0u) y += p.beta * mem[p.bias + row * p.sbiasm + col * p.sbiasn];
    mem[p.c + b0 * p.sc0 + b1 * p.sc1 + row * p.N + col] = y;
}
