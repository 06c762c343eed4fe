// The HTML report's building blocks: HTML escaping, gnuplot string literals, inlining SVG
// with distinct ids, the gnuplot runner's error handling, and a whole report written from a
// small hand-made database whose names carry HTML (it must come out escaped, with every plot).
#include <gtest/gtest.h>

#include <filesystem>
#include <regex>
#include <set>

#include "common/error.hpp"
#include "common/files.hpp"
#include "results/gnuplot.hpp"
#include "results/report.hpp"
#include "results/schema.hpp"

namespace locsweep {
namespace {
namespace fs = std::filesystem;

struct EscapeCase {
  std::string in, out;
};
class HtmlEscape : public testing::TestWithParam<EscapeCase> {};
TEST_P(HtmlEscape, ReplacesMarkupCharacters) {
  EXPECT_EQ(html_escape(GetParam().in), GetParam().out);
}
INSTANTIATE_TEST_SUITE_P(
    Report, HtmlEscape,
    testing::Values(EscapeCase{"plain text", "plain text"}, EscapeCase{"", ""},
                    EscapeCase{"<script>alert(1)</script>",
                               "&lt;script&gt;alert(1)&lt;/script&gt;"},
                    EscapeCase{"a & b", "a &amp; b"}, EscapeCase{"&amp;", "&amp;amp;"},
                    EscapeCase{"x=\"1\" y='2'", "x=&quot;1&quot; y=&#39;2&#39;"},
                    EscapeCase{"λ ≥ 0.5, β = 5", "λ ≥ 0.5, β = 5"}));

class GpQuote : public testing::TestWithParam<EscapeCase> {};
TEST_P(GpQuote, MakesOneSingleQuotedLiteral) {
  EXPECT_EQ(gp_quote(GetParam().in), GetParam().out);
}
INSTANTIATE_TEST_SUITE_P(Report, GpQuote,
                         testing::Values(EscapeCase{"block quintic", "'block quintic'"},
                                         EscapeCase{"", "''"}, EscapeCase{"it's", "'it''s'"},
                                         EscapeCase{"a\"b\\c", "'a\"b\\c'"},
                                         EscapeCase{"two\nlines\r\t", "'two lines  '"},
                                         EscapeCase{"/tmp/x y/data.dat", "'/tmp/x y/data.dat'"}));

TEST(InlineSvg, DropsPrologAndPrefixesIdsAndReferencesInTagsOnly) {
  const std::string svg =
      "<?xml version=\"1.0\"?>\n<!DOCTYPE svg>\n<svg viewBox='0 0 10 10'>"
      "<g id=\"gnuplot_canvas\"><path id='gpPt0' d='M0,0'/><use xlink:href='#gpPt0'/>"
      "<rect fill='url(#grad)'/><text>id='not-a-tag' href='#x'</text></g></svg>";
  const std::string out = inline_svg(svg, "p1-");
  EXPECT_EQ(out.rfind("<svg", 0), 0u) << out;
  EXPECT_NE(out.find("id=\"p1-gnuplot_canvas\""), std::string::npos);
  EXPECT_NE(out.find("id='p1-gpPt0'"), std::string::npos);
  EXPECT_NE(out.find("xlink:href='#p1-gpPt0'"), std::string::npos);
  EXPECT_NE(out.find("url(#p1-grad)"), std::string::npos);
  EXPECT_NE(out.find("<text>id='not-a-tag' href='#x'</text>"), std::string::npos)
      << "text must stay as it is";
  EXPECT_EQ(out.find("<?xml"), std::string::npos);
}

TEST(Gnuplot, MissingProgramSaysToInstallGnuplotNox) {
  try {
    Gnuplot gp("/nonexistent/bin/gnuplot");
    FAIL() << "expected an Error";
  } catch (const InputError&) {
    FAIL() << "a missing gnuplot is not the user's input";
  } catch (const Error& e) {
    EXPECT_NE(std::string(e.what()).find("gnuplot-nox"), std::string::npos) << e.what();
  }
}

TEST(Gnuplot, RendersSvgFromDataFiles) {
  Gnuplot gp;
  EXPECT_NE(gp.version().find("gnuplot"), std::string::npos) << gp.version();
  const std::string data = gp.data_file("line.dat", "0 1\n1 3\n2 2\n");
  const auto out = gp.render_svg(
      "line", "set title 'a <b> & c'\nplot " + data + " using 1:2 with lines title 'it''s'", 400,
      300);
  EXPECT_NE(out.svg.find("<svg"), std::string::npos);
  EXPECT_NE(out.svg.find("<path"), std::string::npos);
  EXPECT_NE(out.svg.find("a &lt;b> &amp; c"), std::string::npos)
      << "gnuplot escapes markup in SVG text";
  EXPECT_TRUE(out.warnings.empty());
}

TEST(Gnuplot, ScriptErrorThrowsWithGnuplotsMessage) {
  Gnuplot gp;
  try {
    gp.render_svg("broken", "plot undefined_variable_xyz with lines", 400, 300);
    FAIL() << "expected an Error";
  } catch (const Error& e) {
    EXPECT_NE(std::string(e.what()).find("undefined"), std::string::npos) << e.what();
  }
}

TEST(Gnuplot, WarningsAreReturnedNotHidden) {
  Gnuplot gp;
  const auto out = gp.render_svg("warn", "plot " + gp.data_file("empty.dat", "") + ", x", 400, 300);
  ASSERT_EQ(out.warnings.size(), 1u);
  EXPECT_NE(out.warnings[0].find("no valid points"), std::string::npos) << out.warnings[0];
}

TEST(Gnuplot, EmptyRangeAdjustmentIsNotAWarning) {
  Gnuplot gp;  // a single point: gnuplot widens the empty x and y ranges itself
  const auto out =
      gp.render_svg("one", "plot " + gp.data_file("one.dat", "1 3\n") + " with points", 400, 300);
  EXPECT_TRUE(out.warnings.empty()) << out.warnings.front();
}

// A results database made by hand: one sweep of four configurations x two seeds, with names
// that carry HTML, per-layer metrics and step metrics, but no attention files.
class ReportOnHandMadeDb : public testing::Test {
 protected:
  void SetUp() override {
    dir_ = fs::temp_directory_path() / ("report_test_" + std::to_string(::getpid()));
    fs::remove_all(dir_);
    fs::create_directories(dir_);
    Database db((dir_ / "r.sqlite").string(), Database::Mode::read_write_create);
    ensure_schema(db, true);
    db.exec("INSERT INTO sweeps(id, name, spec_yaml, created_at, updated_at) VALUES (1, '" + kName +
            "', 'name: x\ndescription: \"<b>bold</b> & more\"\n', 't0', 't1')");
    const std::vector<std::pair<std::string, std::string>> configs = {
        {"none", "distributed"}, {"block", "localist"}, {"block", "linear"}, {"block", "quintic"}};
    int position = 0;
    for (size_t c = 0; c < configs.size(); ++c) {
      const auto& [mechanism, schedule] = configs[c];
      for (int seed = 0; seed < 2; ++seed) {
        const std::string hash = std::to_string(c) + "h" + std::to_string(seed);
        const std::string canonical =
            "{\"data\":{\"corpus\":\"<img src=x>\"},\"locality\":{\"mechanism\":\"" + mechanism +
            "\",\"schedule\":\"" + schedule + "\"},\"seed\":" + std::to_string(seed) + "}";
        const double ppl = 10.0 + 2.0 * static_cast<double>(c) + 0.1 * seed;
        auto t = db.prepare(
            "INSERT INTO trials(hash, label, kind, mechanism, schedule, seed, config_json, "
            "canonical_json, out_dir, status, val_ppl, created_at) "
            "VALUES (?, ?, 'gpt2', ?, ?, ?, '{}', ?, '/nonexistent', 'done', ?, 't')");
        t.bind(1, hash)
            .bind(2, mechanism + " " + schedule + " seed=" + std::to_string(seed))
            .bind(3, mechanism)
            .bind(4, schedule)
            .bind(5, seed)
            .bind(6, canonical)
            .bind(7, ppl)
            .run();
        db.prepare("INSERT INTO sweep_trials VALUES (1, ?, ?, ?)")
            .bind(1, hash)
            .bind(2, position++)
            .bind(3, "{\"data.corpus\":\"<img src=x>\"}")
            .run();
        for (int layer = 0; layer < 3; ++layer)
          db.prepare("INSERT INTO head_metrics VALUES (?, ?, 0, ?, ?, 0.5, ?, 3.0)")
              .bind(1, hash)
              .bind(2, layer)
              .bind(3, layer / 2.0)
              .bind(4, 4.0 - layer)
              .bind(5, 0.6 + 0.1 * layer)
              .run();
        for (int step = 1; step <= 5; ++step)
          db.prepare(
                "INSERT INTO step_metrics(trial_hash, split, step, loss) VALUES (?, 'train', ?, ?)")
              .bind(1, hash)
              .bind(2, step)
              .bind(3, 5.0 - 0.3 * step)
              .run();
        db.prepare(
              "INSERT INTO step_metrics(trial_hash, split, step, loss) VALUES (?, 'val', 5, 3.7)")
            .bind(1, hash)
            .run();
        // The localist trial points at an attention file that is not there.
        if (c == 1 && seed == 0)
          db.prepare("INSERT INTO artifacts VALUES (?, 'attention', ?, 1, 'abc', 't')")
              .bind(1, hash)
              .bind(2, (dir_ / "gone.h5").string())
              .run();
      }
    }
  }
  void TearDown() override { fs::remove_all(dir_); }

  const std::string kName = "<script>alert(1)</script>";
  fs::path dir_;
};

TEST_F(ReportOnHandMadeDb, EscapesEveryNameAndDrawsEveryPlot) {
  Database db((dir_ / "r.sqlite").string(), Database::Mode::read_only);
  const fs::path index = write_report(db, kName, dir_ / "out");
  EXPECT_EQ(index, dir_ / "out" / "index.html");
  const std::string html = read_file(index);
  EXPECT_EQ(html.find("<script"), std::string::npos) << "the sweep name must be escaped";
  EXPECT_EQ(html.find("<img "), std::string::npos)
      << "config names must be escaped (table and plot legends)";
  EXPECT_EQ(html.find("<b>bold"), std::string::npos) << "the description must be escaped";
  EXPECT_NE(html.find("&lt;script&gt;alert(1)&lt;/script&gt;"), std::string::npos);
  EXPECT_NE(html.find("&lt;b&gt;bold&lt;/b&gt; &amp; more"), std::string::npos);
  // Four configuration rows; the five data plots drawn; heatmaps noted as not drawn.
  const std::regex row("<tr class=\"config-row\">");
  EXPECT_EQ(
      std::distance(std::sregex_iterator(html.begin(), html.end(), row), std::sregex_iterator()),
      4);
  for (const char* id :
       {"plot-ratio-beta", "plot-lambda", "plot-entropy", "plot-mass", "plot-training"}) {
    EXPECT_NE(html.find(std::string("<figure class=\"plot\" id=\"") + id + "\">"),
              std::string::npos)
        << id;
    EXPECT_TRUE(fs::file_size(dir_ / "out" / "plots" / (std::string(id) + ".svg")) > 1000) << id;
  }
  EXPECT_NE(html.find("this trial recorded no attention"),
            std::string::npos);                                   // distributed: no artifact
  EXPECT_NE(html.find("gone.h5 is missing"), std::string::npos);  // localist: file missing
  EXPECT_EQ(html.find("gnuplot: "), std::string::npos) << "no gnuplot warnings on the page";
  // Every id on the page is unique (the inlined SVGs were prefixed).
  const std::regex id_attr("\\sid=[\"']([^\"']+)[\"']");
  std::set<std::string> ids;
  for (auto it = std::sregex_iterator(html.begin(), html.end(), id_attr);
       it != std::sregex_iterator(); ++it)
    EXPECT_TRUE(ids.insert((*it)[1]).second) << "duplicate id " << (*it)[1];
}

// The data behind each drawn plot stays in data/, named after the plot, named on the page,
// and holds the values plotted: the mean train loss of step 1 of the distributed rows (5.0 -
// 0.3) and per-layer entropies (4 - layer).
TEST_F(ReportOnHandMadeDb, KeepsThePlotDataInDataFolder) {
  Database db((dir_ / "r.sqlite").string(), Database::Mode::read_only);
  const std::string html = read_file(write_report(db, kName, dir_ / "out"));
  const fs::path data = dir_ / "out" / "data";
  for (const char* name :
       {"plot-ratio-beta-0.dat", "plot-lambda-0.dat", "plot-entropy-0.dat", "plot-mass-0.dat",
        "plot-training-train-0.dat", "plot-training-val-0.dat"}) {
    EXPECT_TRUE(fs::exists(data / name)) << name;
    EXPECT_NE(html.find(std::string("<code>") + name + "</code>"), std::string::npos) << name;
  }
  EXPECT_NE(read_file(data / "plot-training-train-0.dat").find("\n1 4.7\n"), std::string::npos);
  EXPECT_NE(read_file(data / "plot-entropy-0.dat").find("\n2 2\n"), std::string::npos);
  // A stale data file of an earlier report is removed; other files are left alone.
  write_file_atomic(data / "plot-gone-0.dat", "1 2\n");
  write_file_atomic(data / "mine.txt", "x");
  write_report(db, kName, dir_ / "out");
  EXPECT_FALSE(fs::exists(data / "plot-gone-0.dat"));
  EXPECT_TRUE(fs::exists(data / "mine.txt"));
}

TEST_F(ReportOnHandMadeDb, UnknownSweepIsInputErrorAndWritesNothing) {
  Database db((dir_ / "r.sqlite").string(), Database::Mode::read_only);
  EXPECT_THROW(write_report(db, "no-such-sweep", dir_ / "out2"), InputError);
  EXPECT_FALSE(fs::exists(dir_ / "out2"));
}

}  // namespace
}  // namespace locsweep
