// A failure caused by the user's input (a file, a token id, an option): carries a stable code that
// the N-API layer turns into a JS Error's `code`.
#pragma once
#include <stdexcept>
#include <string>

namespace halo {

class CodedError : public std::runtime_error {
 public:
  CodedError(std::string code, const std::string& message) : std::runtime_error(message), code_(std::move(code)) {}
  const std::string& code() const { return code_; }

 private:
  std::string code_;
};

}  // namespace halo
