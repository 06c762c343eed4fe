#include "sweeps/overrides.hpp"

#include <nlohmann/json.hpp>
#include <optional>

#include "common/error.hpp"
#include "common/files.hpp"
#include "sweeps/config_fields.hpp"
#include "sweeps/spec_error.hpp"
#include "sweeps/sweep_spec.hpp"

namespace locsweep {
namespace {

bool is_word_char(char c) {
  return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') || c == '_' ||
         c == '-';
}

std::vector<std::string> split_path(std::string_view path) {
  std::vector<std::string> words(1);
  for (char c : path) {
    if (c == '.')
      words.emplace_back();
    else
      words.back() += c;
  }
  return words;
}

std::string join(const std::vector<std::string>& words, size_t from, size_t to) {
  std::string out;
  for (size_t i = from; i < to; ++i) out += (i > from ? "." : "") + words[i];
  return out;
}

// A copy built node by node: such nodes have null marks, so nothing locates an error of an
// override's value inside the spec file.
YAML::Node without_marks(const YAML::Node& node) {
  switch (node.Type()) {
    case YAML::NodeType::Scalar:
      return YAML::Node(node.Scalar());
    case YAML::NodeType::Sequence: {
      YAML::Node out(YAML::NodeType::Sequence);
      for (const auto& item : node) out.push_back(without_marks(item));
      out.SetStyle(YAML::EmitterStyle::Flow);
      return out;
    }
    case YAML::NodeType::Map: {
      YAML::Node out(YAML::NodeType::Map);
      for (const auto& kv : node) out[without_marks(kv.first)] = without_marks(kv.second);
      out.SetStyle(YAML::EmitterStyle::Flow);
      return out;
    }
    default:
      return YAML::Node(YAML::NodeType::Null);
  }
}

// The sweep keys whose value is a mapping of their own keys (sweeps/sweep_spec.cpp): an
// override of one of its keys creates it when the file has none.
bool is_axis_section(const std::string& word) {
  return word == "grid" || word == "zip" || word == "seeds";
}

std::optional<YAML::Node> find_key(const YAML::Node& map, const std::string& key) {
  for (const auto& kv : map)
    if (kv.first.IsScalar() && kv.first.Scalar() == key) return kv.second;
  return std::nullopt;
}

// Sets words[from..] in `map`: the longest run of words that is a key of `map` is followed
// (a dotted key `locality.schedule` of a grid, a section `train`), else the rest becomes one
// dotted key here.
void set_path(YAML::Node map, const std::vector<std::string>& words, size_t from,
              const YAML::Node& value) {
  for (size_t to = words.size(); to > from; --to) {
    const std::string key = join(words, from, to);
    const auto existing = find_key(map, key);
    if (!existing) continue;
    if (to == words.size()) {
      map[key] = without_marks(value);  // a copy: a later override may write into it
      return;
    }
    if (existing->IsMap()) return set_path(*existing, words, to, value);
  }
  if (from == 0 && words.size() > 1 && is_axis_section(words[0])) {
    map[words[0]] = YAML::Node(YAML::NodeType::Map);  // `grid.locality.schedule=` with no grid
    return set_path(map[words[0]], words, 1, value);
  }
  map[join(words, from, words.size())] = without_marks(value);
}

std::vector<Override> without_repeats(const std::vector<Override>& overrides) {
  std::vector<Override> out;
  for (size_t i = 0; i < overrides.size(); ++i) {
    bool repeated = false;
    for (size_t j = i + 1; j < overrides.size(); ++j)
      repeated = repeated || overrides[j].text == overrides[i].text;
    if (!repeated) out.push_back(overrides[i]);
  }
  return out;
}

// Runs `parse` with every override; when that throws a SpecError, finds who brought it in:
// the file alone (its own error, rethrown as it is), or the first override after which the
// parse fails (the error, reported against that override).
template <class Parse>
auto blame_overrides(const std::vector<Override>& all, const Parse& parse) {
  if (all.empty()) return parse(all);
  try {
    return parse(all);
  } catch (const SpecError& merged) {
    for (size_t n = 0; n < all.size(); ++n) {
      try {
        parse(std::vector<Override>(all.begin(), all.begin() + static_cast<std::ptrdiff_t>(n)));
      } catch (const SpecError& e) {
        if (n == 0) throw;
        throw SpecError(override_label(all[n - 1]), YAML::Mark::null_mark(), e.message());
      }
    }
    throw SpecError(override_label(all.back()), YAML::Mark::null_mark(), merged.message());
  }
}

}  // namespace

bool looks_like_override(std::string_view arg) {
  const size_t eq = arg.find('=');
  if (eq == 0 || eq == std::string_view::npos) return false;
  for (const auto& word : split_path(arg.substr(0, eq))) {
    if (word.empty()) return false;
    for (char c : word)
      if (!is_word_char(c)) return false;
  }
  return true;
}

std::string override_label(const Override& o) {
  return "<command line: " + o.text + ">";
}

Override parse_override(const std::string& text) {
  if (!looks_like_override(text))
    throw InputError("'" + text +
                     "' is not a KEY=VALUE override (the arguments after the spec file are "
                     "overrides): write a dotted key, '=' and a YAML value, e.g. train.lr=1e-3 "
                     "or grid.locality.schedule=[linear,cubic]");
  Override o;
  o.text = text;
  const size_t eq = text.find('=');
  o.path = text.substr(0, eq);
  try {  // every value ends up in JSON (configs, hashes), which must be UTF-8
    (void)nlohmann::json(text).dump();
  } catch (const nlohmann::json::exception&) {
    throw SpecError(override_label(o), YAML::Mark::null_mark(), "the override is not valid UTF-8");
  }
  YAML::Node value;
  try {
    value = YAML::Load(text.substr(eq + 1));
  } catch (const YAML::ParserException& e) {
    throw SpecError(override_label(o), YAML::Mark::null_mark(),
                    "the value is not valid YAML (" + e.msg +
                        "); quote it if it is text, e.g. 'data.corpus=\"a, b\"'");
  }
  reject_duplicate_keys(value, override_label(o));
  o.value = without_marks(value);
  return o;
}

std::vector<Override> parse_overrides(const std::vector<std::string>& texts) {
  std::vector<Override> out;
  for (const auto& text : texts) out.push_back(parse_override(text));
  return out;
}

void apply_overrides(YAML::Node& root, const std::vector<Override>& overrides) {
  if (overrides.empty()) return;
  if (root.IsNull()) root = YAML::Node(YAML::NodeType::Map);
  if (!root.IsMap()) return;  // the file's own error: it must be a mapping
  for (const auto& o : overrides) set_path(root, split_path(o.path), 0, o.value);
}

std::string overridden_source(const YAML::Node& merged, const std::string& file,
                              const std::vector<Override>& overrides) {
  nlohmann::json texts = nlohmann::json::array();
  for (const auto& o : without_repeats(overrides)) texts.push_back(o.text);
  YAML::Emitter out;
  out << merged;
  return "# locsweep: " + nlohmann::json(file).dump() + " with the command-line overrides " +
         texts.dump() + "\n" + out.c_str() + "\n";
}

SweepSpec parse_sweep_with_overrides(const std::string& yaml_text, const std::string& file,
                                     const std::string& spec_dir,
                                     const std::vector<std::string>& overrides) {
  return blame_overrides(parse_overrides(overrides), [&](const std::vector<Override>& some) {
    return parse_sweep(yaml_text, file, spec_dir, some);
  });
}

SweepSpec load_sweep_with_overrides(const std::filesystem::path& file,
                                    const std::vector<std::string>& overrides) {
  return parse_sweep_with_overrides(read_file(file), file.string(),
                                    std::filesystem::absolute(file).parent_path().string(),
                                    overrides);
}

TrialConfig load_trial_config_with_overrides(const std::filesystem::path& file,
                                             const std::vector<std::string>& overrides) {
  const std::string text = read_file(file);
  const std::string dir = std::filesystem::absolute(file).parent_path().string();
  return blame_overrides(parse_overrides(overrides), [&](const std::vector<Override>& some) {
    return parse_trial_config(text, file.string(), dir, some);
  });
}

}  // namespace locsweep
