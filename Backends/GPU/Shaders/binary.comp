#version 450
// f32 elementwise binary ops with broadcasting: dst[i] = lhs[ia] (op) rhs[ib], where ia and ib
// come from the 4-D output index and each operand's strides (0 along broadcast dims).
layout(local_size_x = 256) in;
layout(std430, set = 0, binding = 0) buffer Memory { float mem[]; };
layout(push_constant) uniform Push {
    uint n;       // output elements
    uint lhs;     // offsets in floats
    uint rhs;
    uint dst;
    uint op;      // 0 add (lhs + alpha * rhs), 1 sub (lhs - alpha * rhs), 2 mul, 3 div
    float alpha;
    uint d1, d2, d3;           // output dims 1..3 (dim 0 follows from n)
    uint sa0, sa1, sa2, sa3;   // lhs strides in floats
    uint sb0, sb1, sb2, sb3;   // rhs strides in floats
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
    float a = mem[p.lhs + i0 * p.sa0 + i1 * p.sa1 + i2 * p.sa2 + i3 * p.sa3];
    float b = mem[p.rhs + i0 * p.sb0 + i1 * p.sb1 + i2 * p.sb2 + i3 * p.sb3];
    float y;
    switch (p.op) {
    case 0u: y = a + p.alpha * b; break;
    case 1u: y = a - p.alpha * b; break;
    case 2u: y = a * b; break;
    default: y = a / b; break;
    }
    mem[p.dst + i] = y;
}
