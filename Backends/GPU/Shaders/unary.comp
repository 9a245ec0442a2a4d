#version 450
// f32 elementwise unary ops: dst[i] = f(src[i]). One invocation per element.
layout(local_size_x = 256) in;
layout(std430, set = 0, binding = 0) buffer Memory { float mem[]; };
layout(push_constant) uniform Push {
    uint n;      // elements
    uint src;    // offsets in floats into mem
    uint dst;
    uint op;     // 0 relu, 1 silu, 2 gelu (erf), 3 gelu (tanh), 4 sigmoid, 5 tanh, 6 neg, 7 clamp(a, b), 8 x * a + b,
                 //     9 x / a
    float a;
    float b;
} p;

// erf by Abramowitz & Stegun 7.1.26 (absolute error below 1.5e-7).
float erf_approx(float x) {
    float s = sign(x);
    float t = 1.0 / (1.0 + 0.3275911 * abs(x));
    float y = 1.0 - (((((1.061405429 * t - 1.453152027) * t) + 1.421413741) * t - 0.284496736) * t + 0.254829592) * t * exp(-x * x);
    return s * y;
}

// tanh without the overflow of exp at large |x|.
float safe_tanh(float x) { return tanh(clamp(x, -15.0, 15.0)); }

void main() {
    uint i = (gl_WorkGroupID.y * gl_NumWorkGroups.x + gl_WorkGroupID.x) * 256u + gl_LocalInvocationID.x;
    if (i >= p.n) return;
    float x = mem[p.src + i];
    float y;
    switch (p.op) {
    case 0u: y = max(x, 0.0); break;
    case 1u: y = x / (1.0 + exp(-x)); break;
    case 2u: y = 0.5 * x * (1.0 + erf_approx(x * 0.70710678118654752)); break;
    case 3u: y = 0.5 * x * (1.0 + safe_tanh(0.79788456080286536 * (x + 0.044715 * x * x * x))); break;
    case 4u: y = 1.0 / (1.0 + exp(-x)); break;
    case 5u: y = safe_tanh(x); break;
    case 6u: y = -x; break;
    case 7u: y = min(max(x, p.a), p.b); break;
    case 9u: y = x / p.a; break;
    default: y = x * p.a + p.b; break;
    }
    mem[p.dst + i] = y;
}
