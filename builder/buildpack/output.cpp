#include "builder/buildpack/output.hpp"

namespace aptship::buildpack {

std::string format_build_line(std::string_view line) {
  if (line.empty() || line.starts_with("----->") || line.front() == ' ' || line.front() == '\t') {
    return std::string(line);
  }
  std::string indented(7, ' ');
  indented.append(line);
  return indented;
}

void LineSplitter::feed(std::string_view chunk) {
  while (!chunk.empty()) {
    auto newline = chunk.find('\n');
    if (newline == std::string_view::npos) {
      m_partial.append(chunk);
      return;
    }
    if (m_partial.empty()) {
      emit(chunk.substr(0, newline));
    } else {
      m_partial.append(chunk.substr(0, newline));
      emit(m_partial);
      m_partial.clear();
    }
    chunk.remove_prefix(newline + 1);
  }
}

void LineSplitter::finish() {
  if (!m_partial.empty()) {
    std::string last = std::move(m_partial);
    m_partial.clear();
    emit(last);
  }
}

void LineSplitter::emit(std::string_view line) {
  if (!line.empty() && line.back() == '\r') {
    line.remove_suffix(1);
  }
  if (m_sink) {
    m_sink(line);
  }
}

} // namespace aptship::buildpack
