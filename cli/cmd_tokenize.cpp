// `locsweep tokenize [--vocab DIR|gpt2|bytes] [--cache] [--count] FILE`: the token ids of a
// text file on one line, space-separated. `--corpus NAME` tokenises a corpus (moby-dick, sotu,
// a file or a folder: data/corpus.hpp) instead of a file, and `--print-text` prints the text
// that would be tokenised instead of its tokens; tests/integration/tokenizer_vs_node.sh uses
// both to feed the same text to the JavaScript reference encoder.
#include <fmt/format.h>
#include <cstdio>
#include <filesystem>
#include <memory>

#include "cli/commands.hpp"
#include "common/error.hpp"
#include "common/files.hpp"
#include "data/corpus.hpp"
#include "data/tokenizer.hpp"

namespace locsweep::cli {

void add_tokenize_command(CLI::App& app) {
  struct Options {
    std::string vocab = "gpt2";
    std::string file;
    std::string corpus;
    bool print_text = false;
    bool count = false;
    bool cache = false;
  };
  auto opt = std::make_shared<Options>();
  auto* cmd = app.add_subcommand("tokenize", "Print the token ids of a text file");
  cmd->add_option("FILE", opt->file, "Text file to tokenise (its exact bytes)");
  cmd->add_option("--vocab", opt->vocab,
                  "Tokenizer: gpt2 (the data cache's GPT-2 files), bytes, or a folder with "
                  "encoder.json + vocab.bpe or vocab.json + merges.txt")
      ->capture_default_str();
  auto* corpus = cmd->add_option("--corpus", opt->corpus,
                                 "Tokenise a corpus instead of FILE: moby-dick, sotu, a text "
                                 "file or a folder of .txt files (joined as for training)");
  cmd->add_flag("--print-text", opt->print_text,
                "Print the text that would be tokenised instead of its tokens");
  cmd->add_flag("--count", opt->count, "Print only the number of tokens");
  cmd->add_flag("--cache", opt->cache,
                "Use the data cache's token cache (reads it, or writes it on a miss)");
  corpus->excludes(cmd->get_option("FILE"));
  cmd->callback([opt] {
    const std::filesystem::path cwd = std::filesystem::current_path();
    if (opt->file.empty() && opt->corpus.empty())
      throw InputError("tokenize: give a text FILE or --corpus NAME");
    const std::string text =
        opt->corpus.empty() ? read_file(opt->file) : load_corpus_text(opt->corpus, cwd);
    if (opt->print_text) {
      std::fwrite(text.data(), 1, text.size(), stdout);
      return;
    }
    const Tokenizer tokenizer = Tokenizer::from_spec(opt->vocab, cwd);
    const std::vector<int32_t> ids =
        opt->cache ? tokenize_cached(text, tokenizer) : tokenizer.encode(text);
    if (opt->count) {
      fmt::print("{}\n", ids.size());
      return;
    }
    fmt::memory_buffer out;
    for (size_t i = 0; i < ids.size(); ++i) {
      if (i > 0) out.push_back(' ');
      fmt::format_to(std::back_inserter(out), "{}", ids[i]);
    }
    out.push_back('\n');
    std::fwrite(out.data(), 1, out.size(), stdout);
  });
}

}  // namespace locsweep::cli
