#include "aptrepo/deb/deb822.hpp"

#include "aptrepo/core/text.hpp"

#include <algorithm>
#include <unordered_set>
#include <utility>

#include <fmt/format.h>

namespace aptship::deb {

namespace {

// A garbage file could yield one problem per line; the message stays one
// readable line by naming the first few and counting the rest.
constexpr size_t k_max_reported_problems = 20;

bool is_blank_char(char c) {
  return c == ' ' || c == '\t';
}

bool is_blank_line(std::string_view line) {
  return std::all_of(line.begin(), line.end(), is_blank_char);
}

std::string_view trim_right(std::string_view text) {
  while (!text.empty() && is_blank_char(text.back())) {
    text.remove_suffix(1);
  }
  return text;
}

std::string_view trim_left(std::string_view text) {
  while (!text.empty() && is_blank_char(text.front())) {
    text.remove_prefix(1);
  }
  return text;
}

char ascii_lower(char c) {
  return c >= 'A' && c <= 'Z' ? static_cast<char>(c - 'A' + 'a') : c;
}

bool iequals(std::string_view a, std::string_view b) {
  return a.size() == b.size() && std::equal(a.begin(), a.end(), b.begin(), [](char x, char y) {
           return ascii_lower(x) == ascii_lower(y);
         });
}

// Field names are printable US-ASCII without ':' (deb822(5)); the parser
// has already split at the first ':' so only the range needs checking.
std::optional<char> invalid_name_char(std::string_view name) {
  for (char c : name) {
    if (c < 0x21 || c > 0x7e) {
      return c;
    }
  }
  return std::nullopt;
}

std::string describe_char(char c) {
  if (c == ' ') {
    return "a space";
  }
  return fmt::format("byte 0x{:02x}", static_cast<unsigned char>(c));
}

class Parser {
public:
  Parser(std::string_view source, Comments comments) : m_source(source), m_comments(comments) {}

  Expected<std::vector<Paragraph>> run(std::string_view text) {
    size_t line_no = 0;
    while (!text.empty()) {
      ++line_no;
      size_t end = text.find('\n');
      std::string_view raw = text.substr(0, end);
      text.remove_prefix(end == std::string_view::npos ? text.size() : end + 1);
      handle_line(raw, line_no);
    }
    finish_paragraph();
    if (!m_problems.empty()) {
      return tl::unexpected<Error>(Error(problem_message()));
    }
    return std::move(m_paragraphs);
  }

private:
  void handle_line(std::string_view raw, size_t line_no) {
    std::string cleaned;
    std::string_view line = raw;
    if (raw.find_first_of(std::string_view("\r\0", 2)) != std::string_view::npos) {
      // Reported once; the rest of the line is still parsed without those
      // bytes so one stray CR does not also cause a cascade of errors.
      if (raw.find('\r') != std::string_view::npos) {
        problem(line_no, "carriage return (CRLF line ending?)");
      }
      if (raw.find('\0') != std::string_view::npos) {
        problem(line_no, "NUL byte");
      }
      for (char c : raw) {
        if (c != '\r' && c != '\0') {
          cleaned.push_back(c);
        }
      }
      line = cleaned;
    }

    if (is_blank_line(line)) {
      finish_paragraph();
      return;
    }
    if (line.front() == '#') {
      if (m_comments == Comments::forbidden) {
        problem(line_no, "comment lines are not allowed here");
      }
      // deb822(5) lets a comment sit between continuation lines, so the
      // current field stays open.
      return;
    }
    if (is_blank_char(line.front())) {
      handle_continuation(line, line_no);
      return;
    }
    handle_field(line, line_no);
  }

  void handle_continuation(std::string_view line, size_t line_no) {
    if (m_field_state == FieldState::none) {
      problem(line_no, "continuation line before any field");
      // Later continuation lines belong to the same mistake.
      m_field_state = FieldState::skipping;
      return;
    }
    if (m_field_state == FieldState::skipping) {
      return;
    }
    std::string& value = m_current.value;
    value.push_back('\n');
    value.append(trim_right(line));
  }

  void handle_field(std::string_view line, size_t line_no) {
    flush_field();
    m_field_state = FieldState::skipping;
    size_t colon = line.find(':');
    if (colon == std::string_view::npos) {
      problem(line_no, "line has no ':' after a field name");
      return;
    }
    std::string_view name = line.substr(0, colon);
    if (name.empty()) {
      problem(line_no, "empty field name");
      return;
    }
    if (name.front() == '-') {
      problem(line_no, fmt::format("field name {} starts with '-'", quoted(name)));
      return;
    }
    if (auto bad = invalid_name_char(name)) {
      problem(line_no, fmt::format("field name {} contains {}", quoted(trim_right(name)),
                                   describe_char(*bad)));
      return;
    }
    if (!m_in_paragraph) {
      m_in_paragraph = true;
      m_paragraph = Paragraph();
      m_paragraph.set_line(line_no);
    }
    // A set rather than Paragraph::has() keeps a hostile file with a huge
    // paragraph from costing quadratic time.
    std::string folded(name);
    std::transform(folded.begin(), folded.end(), folded.begin(), ascii_lower);
    if (!m_names.insert(std::move(folded)).second) {
      problem(line_no, fmt::format("duplicate field {}", quoted(name)));
      return;
    }
    m_current = Field{std::string(name), std::string(trim_right(trim_left(line.substr(colon + 1)))),
                      line_no};
    m_field_state = FieldState::open;
  }

  void flush_field() {
    if (m_field_state == FieldState::open) {
      m_paragraph.append(std::move(m_current));
      m_current = Field();
    }
    m_field_state = FieldState::none;
  }

  void finish_paragraph() {
    flush_field();
    if (m_in_paragraph) {
      m_paragraphs.push_back(std::move(m_paragraph));
      m_paragraph = Paragraph();
      m_names.clear();
      m_in_paragraph = false;
    }
  }

  void problem(size_t line_no, std::string text) {
    ++m_problem_count;
    if (m_problems.size() < k_max_reported_problems) {
      m_problems.push_back(fmt::format("line {}: {}", line_no, text));
    }
  }

  std::string problem_message() const {
    std::string message;
    for (const std::string& text : m_problems) {
      if (!message.empty()) {
        message += "; ";
      }
      message += text;
    }
    if (m_problem_count > m_problems.size()) {
      message += fmt::format("; and {} more problems", m_problem_count - m_problems.size());
    }
    if (m_source.empty()) {
      return message;
    }
    return fmt::format("{}: {}", m_source, message);
  }

  // none: no field open (start of paragraph or after a blank line);
  // open: continuation lines extend m_current; skipping: the last field
  // line was rejected, so its continuation lines are dropped silently.
  enum class FieldState { none, open, skipping };

  std::string_view m_source;
  Comments m_comments;
  std::vector<Paragraph> m_paragraphs;
  Paragraph m_paragraph;
  std::unordered_set<std::string> m_names; // of m_paragraph, lowercased
  bool m_in_paragraph = false;
  Field m_current;
  FieldState m_field_state = FieldState::none;
  std::vector<std::string> m_problems;
  size_t m_problem_count = 0;
};

} // namespace

std::optional<std::string_view> Paragraph::get(std::string_view name) const {
  for (const Field& field : m_fields) {
    if (iequals(field.name, name)) {
      return std::string_view(field.value);
    }
  }
  return std::nullopt;
}

bool Paragraph::has(std::string_view name) const {
  return get(name).has_value();
}

void Paragraph::set(std::string_view name, std::string_view value) {
  for (Field& field : m_fields) {
    if (iequals(field.name, name)) {
      field.value = std::string(value);
      return;
    }
  }
  m_fields.push_back(Field{std::string(name), std::string(value), 0});
}

void Paragraph::set_after(std::string_view name, std::string_view value, std::string_view after) {
  if (has(name)) {
    set(name, value);
    return;
  }
  auto it = std::find_if(m_fields.begin(), m_fields.end(),
                         [&](const Field& field) { return iequals(field.name, after); });
  if (it != m_fields.end()) {
    ++it;
  }
  m_fields.insert(it, Field{std::string(name), std::string(value), 0});
}

bool Paragraph::remove(std::string_view name) {
  auto it = std::find_if(m_fields.begin(), m_fields.end(),
                         [&](const Field& field) { return iequals(field.name, name); });
  if (it == m_fields.end()) {
    return false;
  }
  m_fields.erase(it);
  return true;
}

std::string Paragraph::to_string() const {
  std::string out;
  for (const Field& field : m_fields) {
    out += field.name;
    out += ':';
    // An empty first line (a Description with only an extended part) is
    // written as "Name:\n more" so that no trailing space is produced.
    if (!field.value.empty() && field.value.front() != '\n') {
      out += ' ';
    }
    out += field.value;
    out += '\n';
  }
  return out;
}

Expected<std::vector<Paragraph>> parse(std::string_view text, std::string_view source,
                                       Comments comments) {
  return Parser(source, comments).run(text);
}

Expected<Paragraph> parse_one(std::string_view text, std::string_view source, Comments comments) {
  TRY_ASSIGN(std::vector<Paragraph> paragraphs, parse(text, source, comments));
  std::string prefix = source.empty() ? std::string() : fmt::format("{}: ", source);
  if (paragraphs.empty()) {
    return make_error("{}no paragraph (the text is empty or only comments)", prefix);
  }
  if (paragraphs.size() > 1) {
    return make_error("{}line {}: a second paragraph where only one is expected", prefix,
                      paragraphs[1].line());
  }
  return std::move(paragraphs.front());
}

std::string quoted(std::string_view text) {
  return "'" + printable(text) + "'";
}

std::string write(const std::vector<Paragraph>& paragraphs) {
  std::string out;
  for (const Paragraph& paragraph : paragraphs) {
    // A paragraph without fields has no text; writing it would only add a
    // blank line that reads back as nothing.
    if (paragraph.fields().empty()) {
      continue;
    }
    if (!out.empty()) {
      out += '\n';
    }
    out += paragraph.to_string();
  }
  return out;
}

} // namespace aptship::deb
