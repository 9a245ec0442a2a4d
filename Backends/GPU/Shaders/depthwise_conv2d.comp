#version 450
// Depthwise f32 2-D convolution (groups == input channels, one input channel per output
// channel): one invocation per output element over its kernel window. Same push constants as
// conv2d.
layout(local_size_x = 256) in;
layout(std430, set = 0, binding = 0) buffer Memory { float mem[]; };
layout(push_constant) uniform Push {
    uint n;
    uint C, H, W;
    uint O, OH, OW;
    uint KH, KW;
    uint strideH, strideW;
    int padH, padW;
    uint dilH, dilW;
    uint groups;
    uint src, weight, bias, dst;
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
    uint c = o / (p.O / p.C);             // the output channel's input channel
    float acc = p.hasBias != 0u ? mem[p.bias + o] : 0.0;
    int y0 = int(oy * p.strideH) - p.padH;
    int x0 = int(ox * p.strideW) - p.padW;
    uint inBase = p.src + ((b * p.C + c) * p.H) * p.W;
    uint wBase = p.weight + o * p.KH * p.KW;
    for (uint ky = 0u; ky < p.KH; ++ky) {
        int y = y0 + int(ky * p.dilH);
        if (y < 0 || y >= int(p.H)) continue;
        for (uint kx = 0u; kx < p.KW; ++kx) {
            int x = x0 + int(kx * p.dilW);
            if (x < 0 || x >= int(p.W)) continue;
            acc += mem[inBase + uint(y) * p.W + uint(x)] * mem[wBase + ky * p.KW + kx];
        }
    }
    mem[p.dst + i] = acc;
}
