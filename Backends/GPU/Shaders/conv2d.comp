#version 450
// Direct f32 2-D convolution, NCHW input, OIHW weight, groups: one invocation per output
// element, summing over its group's input channels and the (dilated) kernel window.
layout(local_size_x = 256) in;
layout(std430, set = 0, binding = 0) buffer Memory { float mem[]; };
layout(push_constant) uniform Push {
    uint n;                       // output elements (N * O * OH * OW)
    uint C, H, W;                 // input channels and size
    uint O, OH, OW;               // output channels and size
    uint KH, KW;
    uint strideH, strideW;
    int padH, padW;
    uint dilH, dilW;
    uint groups;
    uint src, weight, bias, dst;  // offsets in floats
    uint hasBias;
} p;

void main() {
    uint i = (gl_WorkGroupID.y * gl_NumWorkGroups.x + gl_WorkGroupID.x) * 256u + gl_LocalInvocationID.x;
    if (i >= p.n) return;
    uint ox = i % p.OW;
    uint r = i / p.OW;
    uint oy = r % p.OH;
    r /= p.OH;
    uint o = r % p.O;
    uint b = r / p.O;
    uint cpg = p.C / p.groups;            // input channels per group
    uint g = o / (p.O / p.groups);
    float acc = p.hasBias != 0u ? mem[p.bias + o] : 0.0;
    int y0 = int(oy * p.strideH) - p.padH;
    int x0 = int(ox * p.strideW) - p.padW;
    for (uint ci = 0u; ci < cpg; ++ci) {
        uint inBase = p.src + ((b * p.C + g * cpg + ci) * p.H) * p.W;
        uint wBase = p.weight + ((o * cpg + ci) * p.KH) * p.KW;
        for (uint ky = 0u; ky < p.KH; ++ky) {
            int y = y0 + int(ky * p.dilH);
            if (y < 0 || y >= int(p.H)) continue;
            for (uint kx = 0u; kx < p.KW; ++kx) {
                int x = x0 + int(kx * p.dilW);
                if (x < 0 || x >= int(p.W)) continue;
                acc += mem[inBase + uint(y) * p.W + uint(x)] * mem[wBase + ky * p.KW + kx];
            }
        }
    }
    mem[p.dst + i] = acc;
}
