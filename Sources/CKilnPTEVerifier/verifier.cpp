// kiln_pte_verify: the generated FlatBuffers verifier for `.pte` programs behind a C function.
//
// Steps:
//   1. Cheap preconditions with their own messages: size, identifier "ET12", root offset.
//   2. The verifier flatc generated from Schemas/program.fbs (VerifyProgramBuffer), with explicit
//      limits. If it fails, the Program and ExecutionPlan levels are re-verified field by field,
//      the same way the generated code does, to name the field (and list index) at fault.
//   3. Union tags: the generated verifier accepts unknown tags (forward compatibility), so a
//      tag beyond the schema would leave its value unchecked; Kiln rejects those.
//
// No C++ exception can leave this file: nothing here throws (no std::string, no new), and the
// entry point is noexcept with a catch-all where exceptions are enabled.

#include "kiln_pte_verifier.h"

#include <algorithm>
#include <cstdarg>
#include <cstddef>
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <cstring>

#include "program_generated.h"
#include "scalar_type_generated.h"

namespace {

namespace fb = executorch_flatbuffer;
using flatbuffers::Offset;
using flatbuffers::Table;
using flatbuffers::uoffset_t;
using flatbuffers::Vector;
using flatbuffers::Verifier;
using flatbuffers::voffset_t;

constexpr uoffset_t kMaxDepth = 64;
constexpr uoffset_t kMaxTables = 10000000;
constexpr const char *kPrefix = "flatbuffer verification failed";
constexpr const char *kStructural =
    "an offset, table, vector or string is out of bounds or misaligned, a string lacks its NUL, "
    "or the limits (depth 64, 10000000 tables) are exceeded";

Verifier::Options verifier_options() {
  Verifier::Options options;
  options.max_depth = kMaxDepth;
  options.max_tables = kMaxTables;
  options.check_alignment = true;
  options.check_nested_flatbuffers = true;
  return options;
}

// Writes "flatbuffer verification failed<format...>" into the caller's buffer.
void report(char *error, size_t capacity, const char *format, ...) {
  if (error == nullptr || capacity == 0) return;
  int prefix = std::snprintf(error, capacity, "%s", kPrefix);
  if (prefix < 0 || static_cast<size_t>(prefix) >= capacity) return;
  va_list args;
  va_start(args, format);
  std::vsnprintf(error + prefix, capacity - static_cast<size_t>(prefix), format, args);
  va_end(args);
}

// A dotted path such as "execution_plan[0].values[3]", built without allocating.
class Path {
 public:
  size_t mark() const { return length_; }
  void reset(size_t mark) {
    length_ = mark;
    text_[length_] = '\0';
  }
  void push(const char *field) { append("%s%s", length_ ? "." : "", field); }
  void push(const char *field, uoffset_t index) {
    append("%s%s[%u]", length_ ? "." : "", field, static_cast<unsigned>(index));
  }
  const char *c_str() const { return text_; }

 private:
  void append(const char *format, ...) {
    va_list args;
    va_start(args, format);
    int n = std::vsnprintf(text_ + length_, sizeof text_ - length_, format, args);
    va_end(args);
    if (n > 0) length_ = std::min(sizeof text_ - 1, length_ + static_cast<size_t>(n));
  }
  char text_[192] = {0};
  size_t length_ = 0;
};

const Table *as_table(const void *object) { return reinterpret_cast<const Table *>(object); }

// ---------------------------------------------------------------------------------------------
// Locating a structural failure. Each check below is one step of a generated Verify(), in the
// same order and on the same verifier state, so the first step that fails here is the one that
// failed in VerifyProgramBuffer. A failing step leaves its field pushed on `path`.

// An offset field pointing at a vector of tables; `element` verifies one element.
template <typename Parent, typename T, typename Element>
bool tables(Verifier &v, const Parent *parent, voffset_t field,
            const Vector<Offset<T>> *(Parent::*get)() const, const char *name, Path &path,
            Element element) {
  size_t mark = path.mark();
  path.push(name);
  if (!as_table(parent)->VerifyOffset(v, field)) return false;
  const Vector<Offset<T>> *vector = (parent->*get)();
  if (!v.VerifyVector(vector)) return false;
  path.reset(mark);
  for (uoffset_t i = 0; vector != nullptr && i < vector->size(); i++) {
    path.push(name, i);
    if (!element(v, vector->Get(i), path)) return false;
    path.reset(mark);
  }
  return true;
}

// An offset field pointing at a scalar vector, string or table; `check` verifies the target.
template <typename Parent, typename Check>
bool pointer(Verifier &v, const Parent *parent, voffset_t field, const char *name, Path &path,
             Check check) {
  size_t mark = path.mark();
  path.push(name);
  if (!as_table(parent)->VerifyOffset(v, field) || !check()) return false;
  path.reset(mark);
  return true;
}

template <typename T>
bool whole_table(Verifier &v, const T *table, Path &) {
  return table->Verify(v);
}

bool locate_in_plan(Verifier &v, const fb::ExecutionPlan *plan, Path &path) {
  using P = fb::ExecutionPlan;
  if (!as_table(plan)->VerifyTableStart(v)) return false;
  return pointer(v, plan, P::VT_NAME, "name", path, [&] { return v.VerifyString(plan->name()); }) &&
         pointer(v, plan, P::VT_CONTAINER_META_TYPE, "container_meta_type", path,
                 [&] { return v.VerifyTable(plan->container_meta_type()); }) &&
         tables(v, plan, P::VT_VALUES, &P::values, "values", path, whole_table<fb::EValue>) &&
         pointer(v, plan, P::VT_INPUTS, "inputs", path, [&] { return v.VerifyVector(plan->inputs()); }) &&
         pointer(v, plan, P::VT_OUTPUTS, "outputs", path, [&] { return v.VerifyVector(plan->outputs()); }) &&
         tables(v, plan, P::VT_CHAINS, &P::chains, "chains", path, whole_table<fb::Chain>) &&
         tables(v, plan, P::VT_OPERATORS, &P::operators, "operators", path, whole_table<fb::Operator>) &&
         tables(v, plan, P::VT_DELEGATES, &P::delegates, "delegates", path,
                whole_table<fb::BackendDelegate>) &&
         pointer(v, plan, P::VT_NON_CONST_BUFFER_SIZES, "non_const_buffer_sizes", path,
                 [&] { return v.VerifyVector(plan->non_const_buffer_sizes()); }) &&
         tables(v, plan, P::VT_NON_CONST_BUFFER_DEVICE, &P::non_const_buffer_device,
                "non_const_buffer_device", path, whole_table<fb::NonConstBufferDevice>) &&
         v.EndTable();
}

// Re-runs the verification of a buffer that failed it and fills `path` with the failing field
// below Program, or leaves it empty (failure in the Program table itself, or in a field these
// mirrors do not know: after a schema change, update them to match the generated Verify()).
void locate(const uint8_t *data, size_t size, Path &path) {
  Verifier w(data, size, verifier_options());
  const fb::Program *program = fb::GetProgram(data);
  using P = fb::Program;
  if (!as_table(program)->VerifyTableStart(w)) return;
  path.push("version");
  if (!as_table(program)->VerifyField<uint32_t>(w, P::VT_VERSION, 4)) return;
  path.reset(0);
  if (!tables(w, program, P::VT_EXECUTION_PLAN, &P::execution_plan, "execution_plan", path,
              locate_in_plan) ||
      !tables(w, program, P::VT_CONSTANT_BUFFER, &P::constant_buffer, "constant_buffer", path,
              whole_table<fb::Buffer>) ||
      !tables(w, program, P::VT_BACKEND_DELEGATE_DATA, &P::backend_delegate_data,
              "backend_delegate_data", path, whole_table<fb::BackendDelegateInlineData>) ||
      !tables(w, program, P::VT_SEGMENTS, &P::segments, "segments", path,
              whole_table<fb::DataSegment>) ||
      !pointer(w, program, P::VT_CONSTANT_SEGMENT, "constant_segment", path,
               [&] { return w.VerifyTable(program->constant_segment()); }) ||
      !tables(w, program, P::VT_MUTABLE_DATA_SEGMENTS, &P::mutable_data_segments,
              "mutable_data_segments", path, whole_table<fb::SubsegmentOffsets>) ||
      !tables(w, program, P::VT_NAMED_DATA, &P::named_data, "named_data", path,
              whole_table<fb::NamedData>)) {
    return;
  }
  path.reset(0);  // Not found at these levels.
}

// ---------------------------------------------------------------------------------------------
// Union tags, on a buffer that passed the generated verifier (so every accessor is safe).

bool check_union_tags(const fb::Program *program, char *error, size_t capacity) {
  const auto *plans = program->execution_plan();
  for (uoffset_t p = 0; plans != nullptr && p < plans->size(); p++) {
    const fb::ExecutionPlan *plan = plans->Get(p);
    const auto *values = plan->values();
    for (uoffset_t i = 0; values != nullptr && i < values->size(); i++) {
      auto tag = static_cast<unsigned>(values->Get(i)->val_type());
      if (tag > static_cast<unsigned>(fb::KernelTypes::MAX)) {
        report(error, capacity, " at Program.execution_plan[%u].values[%u].val: KernelTypes tag %u "
               "is not in the schema (0...%u)", p, i, tag, static_cast<unsigned>(fb::KernelTypes::MAX));
        return false;
      }
    }
    const auto *chains = plan->chains();
    for (uoffset_t c = 0; chains != nullptr && c < chains->size(); c++) {
      const auto *instructions = chains->Get(c)->instructions();
      for (uoffset_t i = 0; instructions != nullptr && i < instructions->size(); i++) {
        auto tag = static_cast<unsigned>(instructions->Get(i)->instr_args_type());
        if (tag > static_cast<unsigned>(fb::InstructionArguments::MAX)) {
          report(error, capacity, " at Program.execution_plan[%u].chains[%u].instructions[%u].instr_args: "
                 "InstructionArguments tag %u is not in the schema (0...%u)", p, c, i, tag,
                 static_cast<unsigned>(fb::InstructionArguments::MAX));
          return false;
        }
      }
    }
  }
  return true;
}

int verify_aligned(const uint8_t *data, size_t size, char *error, size_t capacity) {
  Verifier verifier(data, size, verifier_options());
  if (!fb::VerifyProgramBuffer(verifier)) {
    Path path;
    locate(data, size, path);
    if (path.c_str()[0] != '\0') {
      report(error, capacity, " at Program.%s: %s", path.c_str(), kStructural);
    } else {
      report(error, capacity, ": %s", kStructural);
    }
    return 0;
  }
  return check_union_tags(fb::GetProgram(data), error, capacity) ? 1 : 0;
}

int verify(const void *data, size_t size, char *error, size_t capacity) {
  if (error != nullptr && capacity > 0) error[0] = '\0';
  // 1. Preconditions.
  if (size < 2 * sizeof(uoffset_t)) {
    report(error, capacity, ": buffer too small (%zu bytes; a program needs at least 8: root "
           "offset and file identifier)", size);
    return 0;
  }
  if (data == nullptr) {
    report(error, capacity, ": no data");
    return 0;
  }
  if (size >= FLATBUFFERS_MAX_BUFFER_SIZE) {
    report(error, capacity, ": buffer too large (%zu bytes; FlatBuffers are limited to 2 GiB)", size);
    return 0;
  }
  const auto *bytes = static_cast<const uint8_t *>(data);
  if (!fb::ProgramBufferHasIdentifier(bytes)) {
    char shown[4 * 4 + 1] = {0};
    size_t n = 0;
    for (size_t i = 4; i < 8; i++) {
      unsigned char c = bytes[i];
      n += static_cast<size_t>(std::snprintf(shown + n, sizeof shown - n,
                                             (c >= 0x20 && c < 0x7f && c != '"' && c != '\\') ? "%c" : "\\x%02x", c));
    }
    report(error, capacity, ": file identifier is \"%s\", expected \"%s\"", shown, fb::ProgramIdentifier());
    return 0;
  }
  uint32_t root = flatbuffers::ReadScalar<uoffset_t>(bytes);
  if (root < 2 * sizeof(uoffset_t) || root >= size) {
    report(error, capacity, ": root offset %u is not inside the %zu-byte buffer after its 8-byte header",
           root, size);
    return 0;
  }
  // 2-3. The generated verifier reads scalars in place, so give it 16-byte aligned memory
  // (alignment checks are relative to the buffer start; this makes them hold in memory too).
  if (reinterpret_cast<uintptr_t>(data) % alignof(std::max_align_t) == 0) {
    return verify_aligned(bytes, size, error, capacity);
  }
  void *copy = std::malloc(size);
  if (copy == nullptr) {
    report(error, capacity, ": could not allocate %zu bytes to align the buffer", size);
    return 0;
  }
  std::memcpy(copy, data, size);
  int result = verify_aligned(static_cast<const uint8_t *>(copy), size, error, capacity);
  std::free(copy);
  return result;
}

}  // namespace

extern "C" int kiln_pte_verify(const void *data, size_t size, char *error, size_t error_capacity) KILN_PTE_NOEXCEPT {
#if defined(__cpp_exceptions) || defined(__EXCEPTIONS)
  try {
    return verify(data, size, error, error_capacity);
  } catch (...) {
    report(error, error_capacity, ": internal error in the verifier");
    return 0;
  }
#else
  return verify(data, size, error, error_capacity);
#endif
}
