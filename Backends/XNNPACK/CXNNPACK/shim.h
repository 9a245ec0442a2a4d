// Debian's libxnnpack-dev (2022) and libpthreadpool-dev headers, as one Swift module.
// libXNNPACK.so itself links libcpuinfo and libpthreadpool (dynamic), so linking XNNPACK and
// pthreadpool is all a Swift target needs.
#include <xnnpack.h>
#include <pthreadpool.h>
