#include "core/io/safetensors.h"

#include <ATen/ATen.h>
#include <fcntl.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cstring>
#include <memory>

#include "core/errors.h"

namespace halo {

namespace {

[[noreturn]] void fail(const std::string& file, const std::string& what) {
  throw CodedError("ERR_SAFETENSORS", file + ": " + what);
}

// The subset of JSON a safetensors header uses: objects, arrays, strings, integers.
struct Json {
  enum Kind { Null, Number, String, Array, Object } kind = Null;
  double number = 0;
  std::string text;
  std::vector<Json> items;
  std::vector<std::pair<std::string, Json>> members;

  const Json* get(const std::string& key) const {
    for (const auto& member : members)
      if (member.first == key) return &member.second;
    return nullptr;
  }
};

class JsonParser {
 public:
  JsonParser(const char* begin, const char* end, const std::string& file) : p_(begin), end_(end), file_(file) {}

  Json parse_document() {
    Json value = parse_value();
    skip_space();
    if (p_ != end_) error("trailing characters after the header object");
    return value;
  }

 private:
  const char* p_;
  const char* end_;
  const std::string& file_;

  [[noreturn]] void error(const std::string& what) { fail(file_, "corrupt header: " + what); }
  void skip_space() {
    while (p_ < end_ && (*p_ == ' ' || *p_ == '\n' || *p_ == '\r' || *p_ == '\t')) ++p_;
  }
  void expect(char c) {
    skip_space();
    if (p_ >= end_ || *p_ != c) error(std::string("expected '") + c + "'");
    ++p_;
  }
  Json parse_value() {
    skip_space();
    if (p_ >= end_) error("unexpected end");
    Json value;
    if (*p_ == '{') {
      value.kind = Json::Object;
      ++p_;
      skip_space();
      if (p_ < end_ && *p_ == '}') return ++p_, value;
      for (;;) {
        skip_space();
        std::string key = parse_string();
        expect(':');
        value.members.emplace_back(std::move(key), parse_value());
        skip_space();
        if (p_ < end_ && *p_ == ',') { ++p_; continue; }
        expect('}');
        return value;
      }
    }
    if (*p_ == '[') {
      value.kind = Json::Array;
      ++p_;
      skip_space();
      if (p_ < end_ && *p_ == ']') return ++p_, value;
      for (;;) {
        value.items.push_back(parse_value());
        skip_space();
        if (p_ < end_ && *p_ == ',') { ++p_; continue; }
        expect(']');
        return value;
      }
    }
    if (*p_ == '"') {
      value.kind = Json::String;
      value.text = parse_string();
      return value;
    }
    if (*p_ == '-' || (*p_ >= '0' && *p_ <= '9')) {
      const char* start = p_;
      while (p_ < end_ && (std::strchr("+-.eE", *p_) != nullptr || (*p_ >= '0' && *p_ <= '9'))) ++p_;
      value.kind = Json::Number;
      value.number = std::stod(std::string(start, p_));
      return value;
    }
    if (end_ - p_ >= 4 && std::strncmp(p_, "null", 4) == 0) return p_ += 4, value;
    if (end_ - p_ >= 4 && std::strncmp(p_, "true", 4) == 0) return p_ += 4, value;
    if (end_ - p_ >= 5 && std::strncmp(p_, "false", 5) == 0) return p_ += 5, value;
    error("unexpected character");
  }
  std::string parse_string() {
    if (p_ >= end_ || *p_ != '"') error("expected a string");
    ++p_;
    std::string out;
    while (p_ < end_ && *p_ != '"') {
      if (*p_ == '\\') {
        ++p_;
        if (p_ >= end_) break;
        char c = *p_;
        out.push_back(c == 'n' ? '\n' : c == 't' ? '\t' : c);  // names never need \u escapes
        ++p_;
        continue;
      }
      out.push_back(*p_++);
    }
    if (p_ >= end_) error("unterminated string");
    ++p_;
    return out;
  }
};

struct MappedFile {
  void* data = MAP_FAILED;
  size_t size = 0;
  ~MappedFile() {
    if (data != MAP_FAILED) munmap(data, size);
  }
};

at::ScalarType stored_dtype(const std::string& name, const std::string& file, const std::string& tensor) {
  if (name == "F32") return at::kFloat;
  if (name == "BF16") return at::kBFloat16;
  if (name == "F16") return at::kHalf;
  if (name == "I8") return at::kChar;
  if (name == "U8") return at::kByte;
  fail(file, "tensor " + tensor + " has dtype " + name + "; supported: F32, BF16, F16, I8, U8");
}

bool ends_with(const std::string& text, const std::string& suffix) {
  return text.size() >= suffix.size() && text.compare(text.size() - suffix.size(), suffix.size(), suffix) == 0;
}

// Integer tensors (quantized levels) keep their type; quantization scales and mins load as fp32 so
// the model dtype (bf16) never rounds them; everything else becomes the model dtype.
at::ScalarType loaded_dtype(const std::string& name, at::ScalarType stored, at::ScalarType model_dtype) {
  if (stored == at::kChar || stored == at::kByte) return stored;
  if (ends_with(name, ".weight_scale") || ends_with(name, ".weight_min")) return at::kFloat;
  return model_dtype;
}

void read_file(const std::string& file, at::ScalarType dtype, at::Device device, TensorMap& out) {
  int fd = ::open(file.c_str(), O_RDONLY);
  if (fd < 0) fail(file, std::string("cannot open: ") + std::strerror(errno));
  struct stat info {};
  if (fstat(fd, &info) != 0) {
    ::close(fd);
    fail(file, "cannot stat");
  }
  MappedFile mapped;
  mapped.size = static_cast<size_t>(info.st_size);
  if (mapped.size < 8) {
    ::close(fd);
    fail(file, "truncated: " + std::to_string(mapped.size) + " bytes, too short for a safetensors header");
  }
  mapped.data = mmap(nullptr, mapped.size, PROT_READ, MAP_PRIVATE, fd, 0);
  ::close(fd);
  if (mapped.data == MAP_FAILED) fail(file, "mmap failed");
  const char* bytes = static_cast<const char*>(mapped.data);

  uint64_t header_size = 0;
  std::memcpy(&header_size, bytes, 8);
  if (header_size > mapped.size - 8)
    fail(file, "truncated or corrupt: header claims " + std::to_string(header_size) + " bytes, file has " + std::to_string(mapped.size));
  Json header = JsonParser(bytes + 8, bytes + 8 + header_size, file).parse_document();
  if (header.kind != Json::Object) fail(file, "corrupt header: not a JSON object");
  const size_t data_start = 8 + header_size;
  const size_t data_size = mapped.size - data_start;

  for (const auto& [name, entry] : header.members) {
    if (name == "__metadata__") continue;
    const Json* dtype_field = entry.get("dtype");
    const Json* shape_field = entry.get("shape");
    const Json* offsets_field = entry.get("data_offsets");
    if (!dtype_field || !shape_field || !offsets_field || offsets_field->items.size() != 2)
      fail(file, "corrupt header entry for tensor " + name);
    at::ScalarType stored = stored_dtype(dtype_field->text, file, name);
    std::vector<int64_t> shape;
    int64_t count = 1;
    for (const Json& dim : shape_field->items) {
      shape.push_back(static_cast<int64_t>(dim.number));
      count *= shape.back();
    }
    const size_t begin = static_cast<size_t>(offsets_field->items[0].number);
    const size_t end = static_cast<size_t>(offsets_field->items[1].number);
    const size_t expected = static_cast<size_t>(count) * at::elementSize(stored);
    if (end < begin || end - begin != expected)
      fail(file, "tensor " + name + ": data_offsets [" + std::to_string(begin) + ", " + std::to_string(end) + ") do not hold " +
                     std::to_string(count) + " " + dtype_field->text + " values");
    if (end > data_size)
      fail(file, "truncated: tensor " + name + " needs bytes up to " + std::to_string(data_start + end) + " but the file has " +
                     std::to_string(mapped.size));
    // Copy out of the mapping (also fixes alignment), then convert; the mapping is released on return.
    at::Tensor staged = at::empty(shape, at::TensorOptions().dtype(stored));
    std::memcpy(staged.data_ptr(), bytes + data_start + begin, expected);
    out[name] = LoadedTensor{staged.to(device, loaded_dtype(name, stored, dtype)), file};
  }
}

}  // namespace

TensorMap read_safetensors(const std::vector<std::string>& files, at::ScalarType dtype, at::Device device) {
  TensorMap tensors;
  for (const std::string& file : files) read_file(file, dtype, device, tensors);
  return tensors;
}

}  // namespace halo
