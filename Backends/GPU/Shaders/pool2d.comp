#version 450
// f32 2-D pooling over the last two dims of [planes, H, W]: max (dilated), average (ATen's
// padding and count_include_pad rules) and adaptive average. One invocation per output element.
layout(local_size_x = 256) in;
layout(std430, set = 0, binding = 0) buffer Memory { float mem[]; };
layout(push_constant) uniform Push {
    uint n;                 // output elements (planes * OH * OW)
    uint H, W, OH, OW;
    uint KH, KW;
    uint strideH, strideW;
    int padH, padW;
    uint dilH, dilW;
    uint mode;              // 0 max, 1 average, 2 adaptive average
    uint countIncludePad;
    uint divisor;           // 0: none
    uint src, dst;
} p;

void main() {
    uint i = (gl_WorkGroupID.y * gl_NumWorkGroups.x + gl_WorkGroupID.x) * 256u + gl_LocalInvocationID.x;
    if (i >= p.n) return;
    uint ox = i % p.OW;
    uint r = i / p.OW;
    uint oy = r % p.OH;
    uint plane = r / p.OH;
    uint base = p.src + plane * p.H * p.W;
    float y;
    if (p.mode == 2u) {
        uint h0 = (oy * p.H) / p.OH, h1 = ((oy + 1u) * p.H + p.OH - 1u) / p.OH;
        uint w0 = (ox * p.W) / p.OW, w1 = ((ox + 1u) * p.W + p.OW - 1u) / p.OW;
        float sum = 0.0;
        for (uint h = h0; h < h1; ++h)
            for (uint w = w0; w < w1; ++w) sum += mem[base + h * p.W + w];
        y = sum / float((h1 - h0) * (w1 - w0));
    } else if (p.mode == 0u) {
        int hs = int(oy * p.strideH) - p.padH, ws = int(ox * p.strideW) - p.padW;
        y = -1.0 / 0.0;
        for (uint kh = 0u; kh < p.KH; ++kh) {
            int h = hs + int(kh * p.dilH);
            if (h < 0 || h >= int(p.H)) continue;
            for (uint kw = 0u; kw < p.KW; ++kw) {
                int w = ws + int(kw * p.dilW);
                if (w < 0 || w >= int(p.W)) continue;
                float v = mem[base + uint(h) * p.W + uint(w)];
                if (v > y || isnan(v)) y = v;
            }
        }
    } else {
        int hs = int(oy * p.strideH) - p.padH, ws = int(ox * p.strideW) - p.padW;
        int he = min(hs + int(p.KH), int(p.H) + p.padH), we = min(ws + int(p.KW), int(p.W) + p.padW);
        int poolSize = (he - hs) * (we - ws);
        int h0 = max(hs, 0), w0 = max(ws, 0), h1 = min(he, int(p.H)), w1 = min(we, int(p.W));
        float sum = 0.0;
        for (int h = h0; h < h1; ++h)
            for (int w = w0; w < w1; ++w) sum += mem[base + uint(h) * p.W + uint(w)];
        int count = p.divisor != 0u ? int(p.divisor) : (p.countIncludePad != 0u ? poolSize : (h1 - h0) * (w1 - w0));
        y = sum / float(count);
    }
    mem[p.dst + i] = y;
}
