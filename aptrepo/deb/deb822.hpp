#pragma once

// deb822 control data (deb-control(5), deb822(5)): paragraphs of
// "Name: value" fields separated by blank lines, continuation lines starting
// with a space or tab. Field order and value text are preserved exactly.

#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "aptrepo/core/error.hpp"

namespace aptship::deb {

// One field. VALUE keeps continuation lines joined by "\n", each with its
// leading space, so "Description: syn\n long" has value "syn\n long"; the
// first line's surrounding whitespace and trailing whitespace are trimmed.
struct Field {
  std::string name;
  std::string value;
  size_t line = 0; // 1-based line of the field name in the source, 0 if built
};

// An ordered set of fields with case-insensitive unique names.
class Paragraph {
public:
  // The value of NAME (case-insensitive), if present.
  [[nodiscard]] std::optional<std::string_view> get(std::string_view name) const;
  // True if NAME is present.
  [[nodiscard]] bool has(std::string_view name) const;
  // Replaces the value of NAME in place, or appends the field at the end.
  void set(std::string_view name, std::string_view value);
  // Sets NAME; if absent, inserts it right after the field AFTER (or at
  // the end when AFTER is absent too).
  void set_after(std::string_view name, std::string_view value, std::string_view after);
  // Removes NAME; returns whether it was present.
  bool remove(std::string_view name);
  // The fields in order.
  [[nodiscard]] const std::vector<Field>& fields() const { return m_fields; }
  // The 1-based line the paragraph starts on in its source (0 if built).
  [[nodiscard]] size_t line() const { return m_line; }
  void set_line(size_t line) { m_line = line; }
  // Appends a field without checking for duplicates (the parser checks).
  void append(Field field) { m_fields.push_back(std::move(field)); }
  // The paragraph as text, each field "Name: value\n", no trailing blank line.
  [[nodiscard]] std::string to_string() const;

private:
  std::vector<Field> m_fields;
  size_t m_line = 0;
};

// Whether "#" lines are comments (debian/control, .sources) or an error
// (DEBIAN/control, Packages, Release, where dpkg does not allow them).
enum class Comments { allowed, forbidden };

// Parses TEXT. SOURCE names it in errors ("DEBIAN/control"). Every problem
// is collected and reported at once, in one line:
// "DEBIAN/control: line 3: field 'Version' has no value; line 7: ...".
[[nodiscard]] Expected<std::vector<Paragraph>> parse(std::string_view text, std::string_view source,
                                                     Comments comments = Comments::forbidden);

// Parses TEXT that must hold exactly one paragraph.
[[nodiscard]] Expected<Paragraph> parse_one(std::string_view text, std::string_view source,
                                            Comments comments = Comments::forbidden);

// PARAGRAPHS as text separated by blank lines, ending in one newline.
[[nodiscard]] std::string write(const std::vector<Paragraph>& paragraphs);

// TEXT in single quotes for an error message, control bytes written as
// \xNN so that a message about untrusted input stays on one line.
[[nodiscard]] std::string quoted(std::string_view text);

} // namespace aptship::deb
