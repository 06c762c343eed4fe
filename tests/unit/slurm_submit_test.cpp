// Slurm submission: option checks, shell quoting, and the rendered batch script, which is run
// by bash with fake srun/scontrol/sbatch first on PATH (they record their argv, NUL-separated).
// The real-daemon checks are in tests/integration/slurm_*.sh.
#include <fcntl.h>
#include <gtest/gtest.h>
#include <signal.h>
#include <spawn.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include <chrono>
#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <functional>
#include <map>
#include <optional>
#include <set>
#include <sstream>
#include <thread>

#include "common/error.hpp"
#include "slurm/submit.hpp"

extern char** environ;

namespace locsweep {
namespace {
namespace fs = std::filesystem;

// ---------------------------------------------------------------- helpers

std::string slurp(const fs::path& path) {
  std::ifstream in(path, std::ios::binary);
  return std::string(std::istreambuf_iterator<char>(in), {});
}

void write_executable(const fs::path& path, const std::string& text) {
  std::ofstream(path, std::ios::binary) << text;
  fs::permissions(path, fs::perms::owner_all | fs::perms::group_read | fs::perms::others_read);
}

std::vector<std::string> split_nul(const std::string& text) {
  std::vector<std::string> out;
  size_t start = 0;
  for (size_t i = 0; i < text.size(); ++i)
    if (text[i] == '\0') {
      out.push_back(text.substr(start, i - start));
      start = i + 1;
    }
  return out;
}

// scripts/launch as the job passes it to `bash -c` (ending in one line end, as the
// here-document that holds it in the script gives it).
std::string launcher_script() {
  std::string text = slurp(fs::path(LOCSWEEP_SOURCE_DIR) / "scripts/launch");
  while (!text.empty() && text.back() == '\n') text.pop_back();
  return text + "\n";
}

// A valid set of options; each test changes what it checks.
SubmitOptions valid_options() {
  SubmitOptions o;
  o.db = "/data/results.sqlite";
  o.sweep_path = "/data/sweep.yaml";
  o.locsweep_binary = "/opt/locsweep/bin/locsweep";
  return o;
}

// A temporary folder with fake srun, scontrol and sbatch in bin/; removed at the end.
class FakeSlurm : public testing::Test {
 protected:
  void SetUp() override {
    char pattern[] = "/tmp/locsweep-slurm-test.XXXXXX";
    ASSERT_NE(::mkdtemp(pattern), nullptr);
    dir_ = pattern;
    fs::create_directories(dir_ / "bin");
    // Every fake records its argv in $FAKE_DIR/<name>.argv.
    // srun also keeps its host file (--distribution=arbitrary), the SLURM_NTASKS_PER_NODE it
    // got, and whether the set-up marker existed when it started; FAKE_SRUN_EXEC=1 runs the
    // command after its options (bash -c LAUNCHER scripts/launch BINARY ...).
    write_executable(
        dir_ / "bin/srun",
        "#!/bin/bash\nprintf '%s\\0' \"$@\" > \"$FAKE_DIR/srun.argv\"\n"
        "[ -n \"${SLURM_HOSTFILE:-}\" ] && cp \"$SLURM_HOSTFILE\" \"$FAKE_DIR/srun.hosts\"\n"
        "echo \"${SLURM_NTASKS_PER_NODE-unset}\" > \"$FAKE_DIR/srun.ntasks_per_node\"\n"
        "[ -e \"$FAKE_DIR/setup.marker\" ] && touch \"$FAKE_DIR/srun.after_setup\"\n"
        "if [ \"${FAKE_SRUN_EXEC:-}\" = 1 ]; then\n"
        "  while [ \"${1#--}\" != \"$1\" ]; do shift; done\n"
        "  exec \"$@\"\nfi\n"
        "if [ \"${FAKE_SRUN_MODE:-}\" = wait ]; then\n"
        "  trap 'echo term > \"$FAKE_DIR/srun.term\"; exit 75' TERM\n"
        "  echo $$ > \"$FAKE_DIR/srun.pid\"\n"
        "  touch \"$FAKE_DIR/srun.started\"\n"
        "  while :; do sleep 0.05; done\nfi\n"
        "exit \"${FAKE_SRUN_RC:-0}\"\n");
    // `scontrol show hostnames` names the job's nodes ($FAKE_NODES, default "node1"); any
    // other use (requeue) is recorded.
    write_executable(dir_ / "bin/scontrol",
                     "#!/bin/bash\nif [ \"$1 $2\" = 'show hostnames' ]; then\n"
                     "  printf '%s\\n' ${FAKE_NODES:-node1}; exit 0\nfi\n"
                     "printf '%s\\0' \"$@\" > \"$FAKE_DIR/scontrol.argv\"\n"
                     "exit \"${FAKE_SCONTROL_RC:-0}\"\n");
    // scancel --signal=TERM JOB signals the job's steps: here, the fake srun.
    write_executable(dir_ / "bin/scancel",
                     "#!/bin/bash\nprintf '%s\\0' \"$@\" > \"$FAKE_DIR/scancel.argv\"\n"
                     "kill -TERM \"$(cat \"$FAKE_DIR/srun.pid\")\"\n");
    write_executable(dir_ / "bin/sbatch",
                     "#!/bin/bash\nprintf '%s\\0' \"$@\" > \"$FAKE_DIR/sbatch.argv\"\n"
                     "[ -n \"${FAKE_SBATCH_ERR:-}\" ] && echo \"$FAKE_SBATCH_ERR\" >&2\n"
                     "printf '%s\\n' \"${FAKE_SBATCH_OUT:-}\"\nexit \"${FAKE_SBATCH_RC:-0}\"\n");
  }
  void TearDown() override { fs::remove_all(dir_); }

  std::map<std::string, std::string> fake_env() const {
    return {{"PATH", (dir_ / "bin").string() + ":" + std::getenv("PATH")},
            {"FAKE_DIR", dir_.string()},
            {"SLURM_JOB_ID", "4242"},
            {"SLURM_RESTART_COUNT", ""}};
  }

  // Starts `bash script` with `env` on top of ours (an empty value unsets the variable),
  // stdout and stderr into `log`. Returns the pid.
  pid_t spawn_bash(const fs::path& script, const std::map<std::string, std::string>& env,
                   const fs::path& log) const {
    std::vector<std::string> vars;
    for (char** e = environ; *e; ++e) {
      const std::string var = *e;
      if (!env.count(var.substr(0, var.find('=')))) vars.push_back(var);
    }
    for (const auto& [key, value] : env)
      if (!value.empty()) vars.push_back(key + "=" + value);
    std::vector<char*> envp;
    for (auto& v : vars) envp.push_back(v.data());
    envp.push_back(nullptr);
    std::string bash = "/bin/bash", path = script.string();
    char* argv[] = {bash.data(), path.data(), nullptr};
    posix_spawn_file_actions_t actions;
    posix_spawn_file_actions_init(&actions);
    posix_spawn_file_actions_addopen(&actions, 1, log.c_str(), O_WRONLY | O_CREAT | O_APPEND, 0644);
    posix_spawn_file_actions_adddup2(&actions, 1, 2);
    posix_spawnattr_t attr;  // its own process group, so a hung script can be killed whole
    posix_spawnattr_init(&attr);
    posix_spawnattr_setflags(&attr, POSIX_SPAWN_SETPGROUP);
    posix_spawnattr_setpgroup(&attr, 0);
    pid_t pid = -1;
    EXPECT_EQ(::posix_spawn(&pid, argv[0], &actions, &attr, argv, envp.data()), 0);
    posix_spawn_file_actions_destroy(&actions);
    posix_spawnattr_destroy(&attr);
    return pid;
  }

  // Exit status of `pid`; a script still running after 60 s is a failure (killed, -1), so a
  // broken script cannot hang the suite.
  static int wait_exit(pid_t pid) {
    int status = 0;
    for (int i = 0; i < 6000; ++i) {
      const pid_t done = ::waitpid(pid, &status, WNOHANG);
      if (done == pid) return WIFEXITED(status) ? WEXITSTATUS(status) : 128 + WTERMSIG(status);
      EXPECT_EQ(done, 0);
      if (done != 0) return -1;
      std::this_thread::sleep_for(std::chrono::milliseconds(10));
    }
    ADD_FAILURE() << "script still running after 60 s; killed";
    ::kill(-pid, SIGKILL);
    ::waitpid(pid, &status, 0);
    return -1;
  }

  // Renders `o` into dir/job.sbatch, runs it, returns its exit status.
  int run_script(const SubmitOptions& o, const std::map<std::string, std::string>& extra_env = {},
                 const std::string& sweep_name = "demo") {
    const fs::path script = dir_ / "job.sbatch";
    std::ofstream(script, std::ios::binary) << render_batch_script(o, sweep_name);
    auto env = fake_env();
    for (const auto& [k, v] : extra_env) env[k] = v;
    return wait_exit(spawn_bash(script, env, dir_ / "job.log"));
  }

  std::vector<std::string> argv_of(const std::string& fake) const {
    return split_nul(slurp(dir_ / (fake + ".argv")));
  }

  fs::path dir_;
};

// ---------------------------------------------------------------- time limits

struct TimeCase {
  std::string text;
  std::int64_t seconds;  // 0: invalid
};

class SlurmTime : public testing::TestWithParam<TimeCase> {};

TEST_P(SlurmTime, ParsesSlurmFormatsAndRejectsOthers) {
  const auto& c = GetParam();
  if (c.seconds > 0) {
    EXPECT_EQ(parse_slurm_time(c.text), c.seconds);
  } else {
    try {
      parse_slurm_time(c.text);
      FAIL() << "accepted '" << c.text << "'";
    } catch (const InputError& e) {
      EXPECT_NE(std::string(e.what()).find("--time"), std::string::npos) << e.what();
    }
  }
}

INSTANTIATE_TEST_SUITE_P(Table, SlurmTime,
                         testing::Values(TimeCase{"90", 5400}, TimeCase{"5:30", 330},
                                         TimeCase{"2:00:00", 7200}, TimeCase{"48:00:00", 172800},
                                         TimeCase{"1-12", 129600}, TimeCase{"1-0:30", 88200},
                                         TimeCase{"1-00:00:01", 86401}, TimeCase{"0:30", 30},
                                         TimeCase{"1h", 0}, TimeCase{"-5", 0}, TimeCase{"abc", 0},
                                         TimeCase{"", 0}, TimeCase{"0", 0}, TimeCase{"0:00", 0},
                                         TimeCase{"1:60", 0}, TimeCase{"1:00:60", 0},
                                         TimeCase{"1:2:3:4", 0}, TimeCase{"1-24", 0},
                                         TimeCase{"1-", 0}, TimeCase{"5:", 0}, TimeCase{":5", 0},
                                         TimeCase{"1--2", 0}, TimeCase{" 5", 0}, TimeCase{"1e3", 0},
                                         TimeCase{"1234567890", 0}, TimeCase{"UNLIMITED", 0}));

// ---------------------------------------------------------------- option validation

struct OptionCase {
  std::string label;
  std::function<void(SubmitOptions&)> change;
  std::string error_flag;  // empty: valid
  std::string says = "";   // a phrase the message must contain too
};

void PrintTo(const OptionCase& c, std::ostream* os) {
  *os << c.label;
}

class OptionValidation : public testing::TestWithParam<OptionCase> {};

TEST_P(OptionValidation, AcceptsOrNamesTheFlag) {
  SubmitOptions o = valid_options();
  GetParam().change(o);
  if (GetParam().error_flag.empty()) {
    EXPECT_NO_THROW(validate(o));
    return;
  }
  try {
    validate(o);
    FAIL() << "accepted: " << GetParam().label;
  } catch (const InputError& e) {
    EXPECT_EQ(std::string(e.what()).rfind(GetParam().error_flag + ":", 0), 0u) << e.what();
    EXPECT_NE(std::string(e.what()).find(GetParam().says), std::string::npos) << e.what();
  }
}

const OptionCase kOptionCases[] = {
    {"defaults", [](SubmitOptions&) {}, ""},
    {"nodes 0", [](SubmitOptions& o) { o.nodes = 0; }, "--nodes"},
    {"nodes -5", [](SubmitOptions& o) { o.nodes = -5; }, "--nodes"},
    {"nodes 16", [](SubmitOptions& o) { o.nodes = 16; }, ""},
    {"ranks 1", [](SubmitOptions& o) { o.ranks_per_node = 1; }, "--ranks-per-node"},
    {"ranks 9", [](SubmitOptions& o) { o.ranks_per_node = 9; }, ""},
    {"gpus -1", [](SubmitOptions& o) { o.gpus_per_node = -1; }, "--gpus-per-node"},
    {"gpus 4", [](SubmitOptions& o) { o.gpus_per_node = 4; }, ""},
    {"time 1h", [](SubmitOptions& o) { o.time = "1h"; }, "--time"},
    {"time -5", [](SubmitOptions& o) { o.time = "-5"; }, "--time"},
    {"time abc", [](SubmitOptions& o) { o.time = "abc"; }, "--time"},
    {"time 1-12:00", [](SubmitOptions& o) { o.time = "1-12:00"; }, ""},
    {"warn 0", [](SubmitOptions& o) { o.signal_warn_s = 0; }, "--signal-warn"},
    {"warn 70000", [](SubmitOptions& o) { o.signal_warn_s = 70000; }, "--signal-warn"},
    {"warn >= time",
     [](SubmitOptions& o) {
       o.time = "2";
       o.signal_warn_s = 120;
     },
     "--signal-warn"},
    {"warn < time",
     [](SubmitOptions& o) {
       o.time = "2";
       o.signal_warn_s = 60;
     },
     ""},
    {"requeues -1", [](SubmitOptions& o) { o.max_requeues = -1; }, "--max-requeues"},
    {"requeues 0", [](SubmitOptions& o) { o.max_requeues = 0; }, ""},
    {"partition list", [](SubmitOptions& o) { o.partition = "gpu,gpu-long"; }, ""},
    {"partition space", [](SubmitOptions& o) { o.partition = "gpu long"; }, "--partition"},
    {"partition ,,", [](SubmitOptions& o) { o.partition = "gpu,,x"; }, "--partition"},
    {"account ;", [](SubmitOptions& o) { o.account = "proj;rm"; }, "--account"},
    {"account list", [](SubmitOptions& o) { o.account = "a,b"; }, "--account"},
    {"qos $()", [](SubmitOptions& o) { o.qos = "$(id)"; }, "--qos"},
    {"qos normal", [](SubmitOptions& o) { o.qos = "normal"; }, ""},
    {"mem 4G", [](SubmitOptions& o) { o.mem = "4G"; }, ""},
    {"mem 4000M", [](SubmitOptions& o) { o.mem = "4000M"; }, ""},
    {"mem 4000", [](SubmitOptions& o) { o.mem = "4000"; }, ""},
    {"mem 4GB", [](SubmitOptions& o) { o.mem = "4GB"; }, "--mem"},
    {"mem G", [](SubmitOptions& o) { o.mem = "G"; }, "--mem"},
    {"mem -4G", [](SubmitOptions& o) { o.mem = "-4G"; }, "--mem"},
    {"mem 4.5G", [](SubmitOptions& o) { o.mem = "4.5G"; }, "--mem"},
    {"constraint expr", [](SubmitOptions& o) { o.constraint = "a100&[rack1|rack2]"; }, ""},
    {"constraint space", [](SubmitOptions& o) { o.constraint = "a100 ib"; }, "--constraint"},
    {"constraint newline", [](SubmitOptions& o) { o.constraint = "a100\nrm"; }, "--constraint"},
    {"extra ok",
     [](SubmitOptions& o) {
       o.extra_sbatch = {"--mail-type=END", "--exclusive"};
     },
     ""},
    {"extra mem-per-cpu", [](SubmitOptions& o) { o.extra_sbatch = {"--mem-per-cpu=2G"}; }, ""},
    {"extra no dashes", [](SubmitOptions& o) { o.extra_sbatch = {"mail-type=END"}; }, "--sbatch"},
    {"extra short", [](SubmitOptions& o) { o.extra_sbatch = {"-J x"}; }, "--sbatch"},
    {"extra empty", [](SubmitOptions& o) { o.extra_sbatch = {""}; }, "--sbatch"},
    {"extra newline", [](SubmitOptions& o) { o.extra_sbatch = {"--comment=a\ntouch /tmp/pwned"}; },
     "--sbatch"},
    {"extra CR", [](SubmitOptions& o) { o.extra_sbatch = {"--comment=a\rb"}; }, "--sbatch"},
    {"extra no-requeue", [](SubmitOptions& o) { o.extra_sbatch = {"--no-requeue"}; }, "--sbatch"},
    {"extra signal abbrev", [](SubmitOptions& o) { o.extra_sbatch = {"--sig=USR2@60"}; },
     "--sbatch"},
    {"extra time", [](SubmitOptions& o) { o.extra_sbatch = {"--time=5"}; }, "--sbatch"},
    {"extra output", [](SubmitOptions& o) { o.extra_sbatch = {"--output=/x"}; }, "--sbatch"},
    // sbatch reads every argument of an #SBATCH line, not only the first.
    {"extra second option reserved",
     [](SubmitOptions& o) { o.extra_sbatch = {"--comment=x --no-requeue --signal=KILL@1"}; },
     "--sbatch", "sets --no-requeue"},
    {"extra third option reserved",
     [](SubmitOptions& o) { o.extra_sbatch = {"--comment=x --exclusive --sig=KILL@1"}; },
     "--sbatch", "sets --signal"},
    {"extra tab then reserved",
     [](SubmitOptions& o) { o.extra_sbatch = {"--comment=x\t--time=1"}; }, "--sbatch"},
    {"extra two harmless options",
     [](SubmitOptions& o) { o.extra_sbatch = {"--exclusive --mail-type=END"}; }, "--sbatch",
     "not one long sbatch option"},
    {"extra short after long", [](SubmitOptions& o) { o.extra_sbatch = {"--comment=x -t 5"}; },
     "--sbatch", "not one long sbatch option"},
    {"extra quote closes early",
     [](SubmitOptions& o) { o.extra_sbatch = {"--comment=\"a\" --requeue"}; }, "--sbatch",
     "sets --requeue"},
    {"extra unclosed quote", [](SubmitOptions& o) { o.extra_sbatch = {"--comment=\"a --time=1"}; },
     "--sbatch", "unclosed quote"},
    {"extra trailing backslash", [](SubmitOptions& o) { o.extra_sbatch = {"--comment=a\\"}; },
     "--sbatch", "trailing backslash"},
    {"extra unquoted hash", [](SubmitOptions& o) { o.extra_sbatch = {"--comment=a#b"}; },
     "--sbatch", "comment"},
    {"extra quoted spaces ok",
     [](SubmitOptions& o) { o.extra_sbatch = {"--comment=\"x --no-requeue\""}; }, ""},
    {"extra escaped space ok", [](SubmitOptions& o) { o.extra_sbatch = {"--comment=a\\ b"}; }, ""},
    {"extra quoted hash ok", [](SubmitOptions& o) { o.extra_sbatch = {"--comment='a#b'"}; }, ""},
    {"db relative", [](SubmitOptions& o) { o.db = "results.sqlite"; }, "--db"},
    {"db missing", [](SubmitOptions& o) { o.db.clear(); }, "--db"},
    {"sweep relative", [](SubmitOptions& o) { o.sweep_path = "sweep.yaml"; }, "SWEEP"},
    {"binary missing", [](SubmitOptions& o) { o.locsweep_binary.clear(); }, "--locsweep-binary"},
    {"artifacts relative", [](SubmitOptions& o) { o.artifacts = "art"; }, "--artifacts"},
    // The default output lies beside the DB, so the DB path must fit an #SBATCH line...
    {"db newline", [](SubmitOptions& o) { o.db = "/data/a\nb.sqlite"; }, "--db"},
    {"db backslash", [](SubmitOptions& o) { o.db = "/data/a\\b.sqlite"; }, "--db"},
    {"db quotes and $()", [](SubmitOptions& o) { o.db = "/d a/'\"$(x)`y`;#.sqlite"; }, ""},
    // ... unless --output is given.
    {"db newline with output",
     [](SubmitOptions& o) {
       o.db = "/data/a\nb.sqlite";
       o.output = "/logs/job-%j.out";
     },
     ""},
    {"output newline", [](SubmitOptions& o) { o.output = "/logs/a\nb"; }, "--output"},
    // GPUs: one worker per GPU (see RankLayoutTable).
    {"gpus 4 ranks 6", [](SubmitOptions& o) { o.gpus_per_node = 4, o.ranks_per_node = 6; },
     "--ranks-per-node", "two workers on one GPU"},
    {"gpus 4 ranks 5", [](SubmitOptions& o) { o.gpus_per_node = 4, o.ranks_per_node = 5; }, ""},
    {"gpus 4 ranks 3", [](SubmitOptions& o) { o.gpus_per_node = 4, o.ranks_per_node = 3; },
     "--ranks-per-node", "idle"},
    {"ranks -1", [](SubmitOptions& o) { o.ranks_per_node = -1; }, "--ranks-per-node"},
    {"cpus 8", [](SubmitOptions& o) { o.cpus_per_task = 8; }, ""},
    {"cpus -1", [](SubmitOptions& o) { o.cpus_per_task = -1; }, "--cpus-per-task"},
    {"cpus 2000", [](SubmitOptions& o) { o.cpus_per_task = 2000; }, "--cpus-per-task"},
    {"mpi pmi2", [](SubmitOptions& o) { o.mpi = "pmi2"; }, ""},
    {"mpi none", [](SubmitOptions& o) { o.mpi = "none"; }, "--mpi", "run lease"},
    {"mpi pmix_v4", [](SubmitOptions& o) { o.mpi = "pmix_v4"; }, ""},
    {"mpi openmpi", [](SubmitOptions& o) { o.mpi = "openmpi"; }, "--mpi", "pmi2"},
    {"mpi pmix_v", [](SubmitOptions& o) { o.mpi = "pmix_v"; }, "--mpi"},
    {"mpi injection", [](SubmitOptions& o) { o.mpi = "pmix;id"; }, "--mpi"},
    {"mpi empty", [](SubmitOptions& o) { o.mpi = ""; }, "--mpi"},
    {"gres nvme", [](SubmitOptions& o) { o.gres = "nvme:1"; }, ""},
    {"gres typed gpu",
     [](SubmitOptions& o) {
       o.gres = "gpu:a100:4,nvme";
       o.gpus_per_node = 4;
     },
     ""},
    {"gres gpu without gpus", [](SubmitOptions& o) { o.gres = "gpu:4"; }, "--gres",
     "--gpus-per-node 4"},
    {"gres gpu count differs",
     [](SubmitOptions& o) {
       o.gres = "gpu:2";
       o.gpus_per_node = 4;
     },
     "--gres", "--gpus-per-node 2"},
    {"gres empty entry", [](SubmitOptions& o) { o.gres = "nvme:1,"; }, "--gres", "GRES list"},
    {"gres space", [](SubmitOptions& o) { o.gres = "nvme 1"; }, "--gres"},
    {"gres 4 fields", [](SubmitOptions& o) { o.gres = "a:b:c:1"; }, "--gres"},
    {"gres typed, no count", [](SubmitOptions& o) { o.gres = "a:b:c"; }, "--gres"},
    {"setup ok",
     [](SubmitOptions& o) {
       o.setup_lines = {"module load openmpi", "", "\tsource \"$HOME/venv/bin/activate\" # x"};
     },
     ""},
    {"setup newline", [](SubmitOptions& o) { o.setup_lines = {"module load a\nmodule load b"}; },
     "--setup", "one line per --setup"},
    {"setup CR", [](SubmitOptions& o) { o.setup_lines = {"module load a\r"}; }, "--setup"},
    {"setup #SBATCH", [](SubmitOptions& o) { o.setup_lines = {"  #SBATCH --no-requeue"}; },
     "--setup", "--sbatch"},
    {"extra gres", [](SubmitOptions& o) { o.extra_sbatch = {"--gres=gpu:8"}; }, "--sbatch",
     "sets --gres"},
    {"extra ntasks", [](SubmitOptions& o) { o.extra_sbatch = {"--ntasks=9"}; }, "--sbatch",
     "sets --ntasks,"},
    {"extra gpus", [](SubmitOptions& o) { o.extra_sbatch = {"--gpus=8"}; }, "--sbatch",
     "sets --gpus,"},
    {"extra gpus-per-task", [](SubmitOptions& o) { o.extra_sbatch = {"--gpus-per-task=1"}; },
     "--sbatch", "sets --gpus-per-task"},
    {"extra cpus-per-task", [](SubmitOptions& o) { o.extra_sbatch = {"--cpus-per-task=4"}; },
     "--sbatch", "sets --cpus-per-task"},
    {"output relative", [](SubmitOptions& o) { o.output = "job.out"; }, "--output"},
};

INSTANTIATE_TEST_SUITE_P(Table, OptionValidation, testing::ValuesIn(kOptionCases));

// ---------------------------------------------------------------- names and quoting

TEST(JobName, KeepsSafeBytesAndReplacesTheRest) {
  EXPECT_EQ(job_name_for("paper-v1.2_x"), "paper-v1.2_x");
  EXPECT_EQ(job_name_for("a b;$(c)\n"), "a_b___c__");
  EXPECT_EQ(job_name_for(""), "locsweep");
}

TEST(DefaultOutput, LiesBesideTheDbWithPercentDoubled) {
  SubmitOptions o = valid_options();
  o.db = "/data/50%/r.sqlite";
  EXPECT_EQ(default_output_pattern(o, "my sweep"), "/data/50%%/r.sqlite.slurm/my_sweep-%j.out");
}

// Strings that break naive quoting; the marker file must never be created.
const char* const kHostile[] = {
    "with space",
    "it's",
    "\"double\"",
    "$(touch MARKER)",
    "`touch MARKER`",
    "a; touch MARKER; b",
    "line\ntouch MARKER\nend",
    "$HOME ${PATH} $((1+1)) * ? [a] ~ & | < > ! # %",
    "'\"'$(touch MARKER)'\"'",
    "{{DB}} {{SWEEP_PATH}}",
    "trailing backslash\\",
    "tab\there",
    "-dash",
};

class ShellQuote : public FakeSlurm, public testing::WithParamInterface<const char*> {};

TEST_P(ShellQuote, BashReadsBackTheExactText) {
  std::string text = GetParam();
  const std::string marker = (dir_ / "pwned").string();
  for (size_t p; (p = text.find("MARKER")) != std::string::npos;) text.replace(p, 6, marker);
  const fs::path script = dir_ / "quote.sh";
  std::ofstream(script) << "printf '%s' " << shell_quote(text) << " > "
                        << shell_quote((dir_ / "out").string()) << "\n";
  EXPECT_EQ(wait_exit(spawn_bash(script, {}, dir_ / "log")), 0);
  EXPECT_EQ(slurp(dir_ / "out"), text);
  EXPECT_FALSE(fs::exists(marker));
}

INSTANTIATE_TEST_SUITE_P(Hostile, ShellQuote, testing::ValuesIn(kHostile));

TEST(ShellQuoteText, RejectsNul) {
  EXPECT_THROW(shell_quote(std::string_view("a\0b", 3)), InputError);
  EXPECT_EQ(shell_quote(""), "''");
}

// ---------------------------------------------------------------- the rendered script

class HostileScript : public FakeSlurm, public testing::WithParamInterface<const char*> {};

TEST_P(HostileScript, PassesEveryPathToSrunVerbatimAndRunsNothingElse) {
  std::string text = GetParam();
  const std::string marker = (dir_ / "pwned").string();
  for (size_t p; (p = text.find("MARKER")) != std::string::npos;) text.replace(p, 6, marker);
  SubmitOptions o = valid_options();
  o.sweep_path = "/sweeps/" + text + "/sweep.yaml";
  o.db = "/results/" + text + ".sqlite";
  o.artifacts = "/art/" + text;
  o.locsweep_binary = "/bin dir/" + text + "/locsweep";
  o.output = (dir_ / "job-%j.out").string();  // a newline cannot go into #SBATCH --output
  const std::string script = render_batch_script(o, "sweep " + text);

  const fs::path file = dir_ / "job.sbatch";
  std::ofstream(file, std::ios::binary) << script;
  {
    const fs::path syntax = dir_ / "syntax.sh";
    std::ofstream(syntax) << "exec bash -n " << shell_quote(file.string()) << "\n";
    EXPECT_EQ(wait_exit(spawn_bash(syntax, {}, dir_ / "syntax.log")), 0)
        << slurp(dir_ / "syntax.log");
  }
  EXPECT_EQ(run_script(o, {}, "sweep " + text), 0) << slurp(dir_ / "job.log");
  const auto srun = argv_of("srun");
  ASSERT_EQ(srun.size(), 14u) << slurp(dir_ / "job.log");
  EXPECT_TRUE(srun[5] == launcher_script())
      << "the launcher passed to bash -c is not scripts/launch";
  EXPECT_EQ(std::vector<std::string>(srun.begin(), srun.begin() + 5),
            (std::vector<std::string>{"--mpi=pmix", "--ntasks=2", "--distribution=arbitrary",
                                      "bash", "-c"}));
  EXPECT_EQ(std::vector<std::string>(srun.begin() + 6, srun.end()),
            (std::vector<std::string>{"scripts/launch", o.locsweep_binary.string(), "run",
                                      o.sweep_path.string(), "--db", o.db.string(), "--artifacts",
                                      o.artifacts.string()}));
  EXPECT_FALSE(fs::exists(marker)) << "an injected command ran";
  EXPECT_FALSE(fs::exists(dir_ / "scontrol.argv"));
  // The job name and the comment carry the name on one line each.
  EXPECT_NE(script.find("#SBATCH --job-name=" + job_name_for("sweep " + text) + "\n"),
            std::string::npos);
}

INSTANTIATE_TEST_SUITE_P(Hostile, HostileScript, testing::ValuesIn(kHostile));

TEST(BatchScript, DoubleQuotesTheDefaultOutputForSbatch) {
  SubmitOptions o = valid_options();
  o.db = "/d a/it's \"x\" $(y).sqlite";
  const std::string script = render_batch_script(o, "s");
  EXPECT_NE(script.find("#SBATCH --output=\"/d a/it's \\\"x\\\" $(y).sqlite.slurm/s-%j.out\"\n"),
            std::string::npos)
      << script;
}

TEST(BatchScript, WritesOptionalLinesOnlyWhenGivenAndAllBeforeTheFirstCommand) {
  SubmitOptions o = valid_options();
  std::string plain = render_batch_script(o, "s");
  for (const char* absent : {"--gpus-per-node", "--partition", "--account", "--qos",
                             "--mem=", "--constraint", "{{", "}}"})
    EXPECT_EQ(plain.find(absent), std::string::npos) << absent;
  for (const char* present :
       {"#SBATCH --job-name=s\n", "#SBATCH --nodes=1\n", "#SBATCH --ntasks-per-node=2\n",
        "#SBATCH --time=24:00:00\n", "#SBATCH --open-mode=append\n", "#SBATCH --requeue\n",
        "#SBATCH --signal=USR1@120\n", "max_requeues=20\n", "artifacts_args=()\n"})
    EXPECT_NE(plain.find(present), std::string::npos) << present;

  o.nodes = 3;
  o.ranks_per_node = 5;
  o.gpus_per_node = 4;
  o.time = "1-12";
  o.partition = "gpu";
  o.account = "proj";
  o.qos = "high";
  o.mem = "64G";
  o.constraint = "a100";
  o.extra_sbatch = {"--mail-type=END", "--exclusive"};
  o.signal_warn_s = 300;
  o.max_requeues = 7;
  const std::string full = render_batch_script(o, "s");
  std::vector<std::string> sbatch_lines;
  bool command_seen = false;
  for (size_t pos = 0; pos < full.size();) {
    const size_t end = full.find('\n', pos);
    const std::string line = full.substr(pos, end - pos);
    pos = end + 1;
    if (line.rfind("#SBATCH ", 0) == 0) {
      EXPECT_FALSE(command_seen) << "sbatch ignores " << line << " after the first command";
      sbatch_lines.push_back(line.substr(8));
    } else if (!line.empty() && line[0] != '#') {
      command_seen = true;
    }
  }
  EXPECT_EQ(
      sbatch_lines,
      (std::vector<std::string>{
          "--job-name=s", "--nodes=3", "--ntasks-per-node=5", "--gpus-per-node=4", "--time=1-12",
          "--output=\"/data/results.sqlite.slurm/s-%j.out\"", "--open-mode=append", "--requeue",
          "--signal=USR1@300", "--partition=gpu", "--account=proj", "--qos=high", "--mem=64G",
          "--constraint=a100", "--mail-type=END", "--exclusive"}));
  EXPECT_NE(full.find("max_requeues=7\n"), std::string::npos);
}

TEST(BatchScript, ValidatesBeforeRendering) {
  SubmitOptions o = valid_options();
  o.time = "1h";
  EXPECT_THROW(render_batch_script(o, "s"), InputError);
}

// What the script does with each exit status of `locsweep run`.
struct DecisionCase {
  std::string label;
  std::string srun_rc, restart_count;  // restart_count "": unset
  int max_requeues;
  std::string scontrol_rc;
  int script_exit;
  bool requeues;
};

void PrintTo(const DecisionCase& c, std::ostream* os) {
  *os << c.label;
}

class Decision : public FakeSlurm, public testing::WithParamInterface<DecisionCase> {};

TEST_P(Decision, RequeuesOnlyWhenWorkIsLeftAndBudgetRemains) {
  const auto& c = GetParam();
  SubmitOptions o = valid_options();
  o.max_requeues = c.max_requeues;
  const std::string marker = (dir_ / "pwned").string();
  std::string restart = c.restart_count;
  if (const size_t p = restart.find("MARKER"); p != std::string::npos)
    restart.replace(p, 6, marker);
  const int rc = run_script(o, {{"FAKE_SRUN_RC", c.srun_rc},
                                {"SLURM_RESTART_COUNT", restart},
                                {"FAKE_SCONTROL_RC", c.scontrol_rc}});
  const std::string log = slurp(dir_ / "job.log");
  EXPECT_EQ(rc, c.script_exit) << log;
  if (c.requeues)
    EXPECT_EQ(argv_of("scontrol"), (std::vector<std::string>{"requeue", "4242"})) << log;
  else
    EXPECT_FALSE(fs::exists(dir_ / "scontrol.argv")) << log;
  EXPECT_FALSE(fs::exists(marker));
  EXPECT_NE(log.find("locsweep-job 4242: start (restart"), std::string::npos) << log;
}

INSTANTIATE_TEST_SUITE_P(
    Table, Decision,
    testing::Values(DecisionCase{"complete", "0", "", 20, "0", 0, false},
                    DecisionCase{"work left, first run", "75", "", 20, "0", 0, true},
                    DecisionCase{"work left, last allowed", "75", "19", 20, "0", 0, true},
                    DecisionCase{"work left, budget spent", "75", "20", 20, "0", 75, false},
                    DecisionCase{"work left, no requeues", "75", "", 0, "0", 75, false},
                    DecisionCase{"requeue refused", "75", "", 20, "1", 75, true},
                    DecisionCase{"error", "3", "", 20, "0", 3, false},
                    DecisionCase{"error 1 on a restart", "1", "5", 20, "0", 1, false},
                    // A non-numeric count counts as 0 and is never evaluated.
                    DecisionCase{"hostile restart count", "75", "a[$(touch MARKER)]", 20, "0", 0,
                                 true}));

TEST_F(FakeSlurm, SigtermToTheBatchShellIsForwardedAndDoesNotRequeue) {
  const fs::path script = dir_ / "job.sbatch";
  std::ofstream(script, std::ios::binary) << render_batch_script(valid_options(), "s");
  auto env = fake_env();
  env["FAKE_SRUN_MODE"] = "wait";
  const pid_t pid = spawn_bash(script, env, dir_ / "job.log");
  // Wait (bounded) until the fake srun runs, then do what Slurm does on requeue/preemption.
  for (int i = 0; i < 600 && !fs::exists(dir_ / "srun.started"); ++i)
    std::this_thread::sleep_for(std::chrono::milliseconds(50));
  ASSERT_TRUE(fs::exists(dir_ / "srun.started")) << slurp(dir_ / "job.log");
  ASSERT_EQ(::kill(pid, SIGTERM), 0);
  const int rc = wait_exit(pid);
  const std::string log = slurp(dir_ / "job.log");
  EXPECT_EQ(rc, 75) << log;  // srun's status, passed through
  // Passed on to the job steps through scancel, never to srun itself (srun would SIGKILL them).
  EXPECT_EQ(split_nul(slurp(dir_ / "scancel.argv")),
            (std::vector<std::string>{"--signal=TERM", "4242"}))
      << log;
  EXPECT_TRUE(fs::exists(dir_ / "srun.term")) << "the step did not get the SIGTERM\n" << log;
  EXPECT_FALSE(fs::exists(dir_ / "scontrol.argv")) << log;
  EXPECT_NE(log.find("not requeueing from this script"), std::string::npos) << log;
}

// ---------------------------------------------------------------- rank layout and GPUs

// Every layout `submit` accepts puts exactly gpus_per_node workers on every node (rank 0, the
// coordinator, on top on the first), and every other --ranks-per-node is refused by name.
TEST(RankLayoutTable, WithGpusEveryNodeHasOneWorkerPerGpuOrTheLayoutIsRefused) {
  int accepted = 0, refused = 0;
  for (int nodes = 1; nodes <= 4; ++nodes)
    for (int gpus = 0; gpus <= 8; ++gpus)
      for (int ranks = 0; ranks <= 10; ++ranks) {
        SubmitOptions o = valid_options();
        o.nodes = nodes;
        o.gpus_per_node = gpus;
        o.ranks_per_node = ranks;
        const std::string label = std::to_string(nodes) + " nodes, " + std::to_string(gpus) +
                                  " GPUs, " + std::to_string(ranks) + " ranks per node";
        const bool fits = gpus > 0 ? ranks == 0 || ranks == gpus + 1 : ranks != 1;
        try {
          validate(o);
          EXPECT_TRUE(fits) << label << " accepted";
          ++accepted;
        } catch (const InputError& e) {
          EXPECT_FALSE(fits) << label << ": " << e.what();
          EXPECT_EQ(std::string(e.what()).rfind("--ranks-per-node:", 0), 0u) << e.what();
          if (gpus > 0 && ranks > gpus + 1)
            EXPECT_NE(std::string(e.what()).find("two workers on one GPU"), std::string::npos);
          ++refused;
          continue;
        }
        const RankLayout layout = rank_layout(o);
        int total = 0;
        for (int node = 0; node < nodes; ++node) {
          const int workers = layout.workers_on(node);
          total += workers + (node == 0 ? 1 : 0);
          if (gpus > 0)
            EXPECT_EQ(workers, gpus) << label << ", node " << node;
          else
            EXPECT_EQ(workers, (ranks ? ranks : 2) - (node == 0 ? 1 : 0)) << label;
        }
        EXPECT_EQ(layout.total, total) << label;
      }
  EXPECT_GT(accepted, 0);
  EXPECT_GT(refused, 0);
}

TEST(RankLayoutTable, TheDocumentedExampleUsesEveryGpu) {
  SubmitOptions o = valid_options();  // --nodes 2 --ranks-per-node 5 --gpus-per-node 4
  o.nodes = 2;
  o.ranks_per_node = 5;
  o.gpus_per_node = 4;
  ASSERT_NO_THROW(validate(o));
  const RankLayout layout = rank_layout(o);
  EXPECT_EQ(layout.total, 9);
  EXPECT_EQ(layout.workers_on(0) + layout.workers_on(1), 8);  // 8 of 8 GPUs
  o.ranks_per_node = 0;                                       // derived: the same
  EXPECT_EQ(rank_layout(o).total, 9);
  EXPECT_EQ(to_json(o)["ranks_per_node"], 5);
  EXPECT_EQ(to_json(o)["ranks"], 9);
}

struct LayoutCase {
  int nodes, gpus, ranks;     // ranks 0: derived
  std::vector<int> per_node;  // the ranks srun's host file must put on each node
};

void PrintTo(const LayoutCase& c, std::ostream* os) {
  *os << c.nodes << " nodes, " << c.gpus << " GPUs, " << c.ranks << " ranks per node";
}

class Layout : public FakeSlurm, public testing::WithParamInterface<LayoutCase> {};

// The rendered script's host file (rank i on line i) against the GPU each worker takes as
// orchestrator/run.cpp picks it: its index among its node's workers, mod the node's GPUs. Two
// workers never share a GPU, and each GPU has a worker.
TEST_P(Layout, TheScriptPlacesOneWorkerPerGpuAndTheCoordinatorFirst) {
  const auto& c = GetParam();
  SubmitOptions o = valid_options();
  o.nodes = c.nodes;
  o.gpus_per_node = c.gpus;
  o.ranks_per_node = c.ranks;
  std::string node_names;
  for (int n = 1; n <= c.nodes; ++n) node_names += "gpu-node" + std::to_string(n) + " ";
  ASSERT_EQ(run_script(o, {{"FAKE_NODES", node_names}, {"SLURM_NTASKS_PER_NODE", "99"}}), 0)
      << slurp(dir_ / "job.log");
  std::vector<std::string> hosts;
  std::istringstream in(slurp(dir_ / "srun.hosts"));
  for (std::string line; std::getline(in, line);) hosts.push_back(line);
  std::map<std::string, int> per_node;
  for (const auto& h : hosts) ++per_node[h];
  int total = 0;
  for (int n = 1; n <= c.nodes; ++n) {
    EXPECT_EQ(per_node["gpu-node" + std::to_string(n)], c.per_node[static_cast<size_t>(n - 1)])
        << "node " << n;
    total += c.per_node[static_cast<size_t>(n - 1)];
  }
  ASSERT_EQ(hosts.size(), static_cast<size_t>(total));
  EXPECT_EQ(hosts[0], "gpu-node1");  // rank 0, the coordinator
  std::map<std::string, int> next_index;
  std::set<std::pair<std::string, int>> gpus_used;
  for (size_t rank = 1; rank < hosts.size(); ++rank) {
    const int index = next_index[hosts[rank]]++;
    if (c.gpus > 0)
      EXPECT_TRUE(gpus_used.insert({hosts[rank], index % c.gpus}).second)
          << "rank " << rank << " shares GPU " << index % c.gpus << " of " << hosts[rank];
  }
  if (c.gpus > 0) EXPECT_EQ(gpus_used.size(), static_cast<size_t>(c.nodes * c.gpus));
  const auto srun = argv_of("srun");
  EXPECT_NE(std::find(srun.begin(), srun.end(), "--ntasks=" + std::to_string(total)), srun.end());
  // srun gets the layout from the host file alone, not from sbatch's per-node count.
  EXPECT_EQ(slurp(dir_ / "srun.ntasks_per_node"), "unset\n");
  const std::string script = render_batch_script(o, "demo");
  EXPECT_NE(script.find("#SBATCH --ntasks-per-node=" + std::to_string(c.per_node[0]) + "\n"),
            std::string::npos);
  EXPECT_EQ(script.find("--gpus-per-node=") != std::string::npos, c.gpus > 0);
}

INSTANTIATE_TEST_SUITE_P(
    Table, Layout,
    testing::Values(LayoutCase{1, 0, 0, {2}}, LayoutCase{1, 0, 5, {5}},
                    LayoutCase{3, 0, 3, {3, 3, 3}}, LayoutCase{1, 1, 0, {2}},
                    LayoutCase{1, 4, 0, {5}}, LayoutCase{2, 4, 0, {5, 4}},
                    LayoutCase{2, 4, 5, {5, 4}},  // docs/slurm.md's example: 8 of 8 GPUs
                    LayoutCase{3, 2, 3, {3, 2, 2}}, LayoutCase{4, 8, 0, {9, 8, 8, 8}}));

TEST_F(FakeSlurm, ScriptWithoutNodesEndsWithAMessage) {
  const int rc = run_script(valid_options(), {{"FAKE_NODES", " "}});
  EXPECT_EQ(rc, 1);
  EXPECT_NE(slurp(dir_ / "job.log").find("named no nodes"), std::string::npos);
  EXPECT_FALSE(fs::exists(dir_ / "srun.argv"));
}

// ---------------------------------------------------------------- cpus, gres, mpi, set-up

TEST_F(FakeSlurm, CpusPerTaskReachesSbatchSrunAndTheRunsThreads) {
  SubmitOptions o = valid_options();
  o.cpus_per_task = 3;
  const std::string script = render_batch_script(o, "demo");
  EXPECT_NE(script.find("#SBATCH --cpus-per-task=3\n"), std::string::npos);
  ASSERT_EQ(run_script(o), 0) << slurp(dir_ / "job.log");
  const auto srun = argv_of("srun");
  ASSERT_GE(srun.size(), 4u);
  EXPECT_EQ(std::vector<std::string>(srun.begin(), srun.begin() + 2),
            (std::vector<std::string>{"--mpi=pmix", "--cpus-per-task=3"}));
  EXPECT_EQ(std::vector<std::string>(srun.end() - 2, srun.end()),
            (std::vector<std::string>{"--threads", "3"}));
  o.cpus_per_task = 0;
  EXPECT_EQ(render_batch_script(o, "demo").find("cpus-per-task"), std::string::npos);
}

TEST_F(FakeSlurm, MpiPluginReachesSrun) {
  SubmitOptions o = valid_options();
  o.mpi = "pmi2";
  ASSERT_EQ(run_script(o), 0) << slurp(dir_ / "job.log");
  EXPECT_EQ(argv_of("srun").at(0), "--mpi=pmi2");
}

TEST(Gres, CountsTheGpusOfItsGpuEntry) {
  EXPECT_EQ(gres_gpus(""), 0);
  EXPECT_EQ(gres_gpus("nvme:1"), 0);
  EXPECT_EQ(gres_gpus("gpux:2"), 0);
  EXPECT_EQ(gres_gpus("gpu"), 1);
  EXPECT_EQ(gres_gpus("gpu:a100"), 1);
  EXPECT_EQ(gres_gpus("gpu:4"), 4);
  EXPECT_EQ(gres_gpus("gpu:a100:8,nvme:1"), 8);
  EXPECT_EQ(gres_gpus("nvme:1,gpu:h200:2"), 2);
}

TEST(BatchScript, GresLineAndAGpuGresReplacesTheGpusPerNodeLine) {
  SubmitOptions o = valid_options();
  o.gpus_per_node = 4;
  o.gres = "gpu:a100:4,nvme:1";
  std::string script = render_batch_script(o, "s");
  EXPECT_NE(script.find("#SBATCH --gres=gpu:a100:4,nvme:1\n"), std::string::npos);
  EXPECT_EQ(script.find("--gpus-per-node"), std::string::npos) << "GPUs requested twice";
  EXPECT_NE(script.find("first_node_ranks=5\nother_node_ranks=4\n"), std::string::npos);
  o.gres = "nvme:1";
  script = render_batch_script(o, "s");
  EXPECT_NE(script.find("#SBATCH --gres=nvme:1\n"), std::string::npos);
  EXPECT_NE(script.find("#SBATCH --gpus-per-node=4\n"), std::string::npos);
}

// The set-up lines run verbatim, in order, before srun, with `set -u` off, and what they export
// reaches the ranks, which run through scripts/launch.
TEST_F(FakeSlurm, SetupLinesRunInOrderBeforeTheStepAndTheRanksRunThroughTheLauncher) {
  const fs::path binary = dir_ / "bin dir" / "locsweep";
  fs::create_directories(binary.parent_path());
  write_executable(binary,
                   "#!/bin/bash\nprintf '%s\\0' \"$@\" > \"$FAKE_DIR/locsweep.argv\"\n"
                   "env > \"$FAKE_DIR/locsweep.env\"\n");
  SubmitOptions o = valid_options();
  o.locsweep_binary = binary;
  o.setup_lines = {"echo one >> \"$FAKE_DIR/setup.log\"",
                   "  if [ -z \"${UNSET_BY_TEST}\" ]; then echo 'two (unset ok)'; fi >> "
                   "\"$FAKE_DIR/setup.log\"",
                   "export FROM_SETUP='it''s set'", "touch \"$FAKE_DIR/setup.marker\""};
  ASSERT_EQ(run_script(o, {{"FAKE_SRUN_EXEC", "1"},
                           {"UNSET_BY_TEST", ""},
                           {"OMPI_ALLOW_RUN_AS_ROOT_CONFIRM", ""}}),
            0)
      << slurp(dir_ / "job.log");
  EXPECT_EQ(slurp(dir_ / "setup.log"), "one\ntwo (unset ok)\n");
  EXPECT_TRUE(fs::exists(dir_ / "srun.after_setup")) << "srun started before the set-up";
  EXPECT_EQ(argv_of("locsweep"),
            (std::vector<std::string>{"run", o.sweep_path.string(), "--db", o.db.string()}));
  const std::string env = slurp(dir_ / "locsweep.env");
  EXPECT_NE(env.find("\nFROM_SETUP=its set\n"), std::string::npos) << env;
  // scripts/launch sets this when it is unset: the rank ran through it.
  EXPECT_NE(env.find("\nOMPI_ALLOW_RUN_AS_ROOT_CONFIRM=1\n"), std::string::npos) << env;
  const std::string log = slurp(dir_ / "job.log");
  EXPECT_NE(log.find("set-up: 4 line(s)"), std::string::npos) << log;
  EXPECT_NE(log.find("sweep complete (exit 0)"), std::string::npos) << log;
}

TEST(SetupFile, ReadsEveryLineInOrderAndRefusesCarriageReturns) {
  char pattern[] = "/tmp/locsweep-setup-test.XXXXXX";
  ASSERT_NE(::mkdtemp(pattern), nullptr);
  const fs::path dir = pattern;
  std::ofstream(dir / "ok") << "module load openmpi/4.1\n\nsource '/opt/my venv/bin/activate'\n";
  EXPECT_EQ(read_setup_file(dir / "ok"),
            (std::vector<std::string>{"module load openmpi/4.1", "",
                                      "source '/opt/my venv/bin/activate'"}));
  std::ofstream(dir / "crlf") << "module load a\nmodule load b\r\n";
  try {
    read_setup_file(dir / "crlf");
    FAIL() << "a carriage return was accepted";
  } catch (const InputError& e) {
    EXPECT_EQ(std::string(e.what()).rfind("--setup-file:", 0), 0u) << e.what();
    EXPECT_NE(std::string(e.what()).find("line 2"), std::string::npos) << e.what();
  }
  EXPECT_THROW(read_setup_file(dir / "missing"), InputError);
  EXPECT_THROW(read_setup_file(dir), InputError);
  fs::remove_all(dir);
}

// ---------------------------------------------------------------- submit()

// Sets an environment variable for one test.
class ScopedEnv {
 public:
  ScopedEnv(const char* name, const std::string& value) : name_(name) {
    if (const char* old = std::getenv(name)) old_ = old;
    ::setenv(name, value.c_str(), 1);
  }
  ~ScopedEnv() {
    if (old_)
      ::setenv(name_, old_->c_str(), 1);
    else
      ::unsetenv(name_);
  }

 private:
  const char* name_;
  std::optional<std::string> old_;
};

TEST_F(FakeSlurm, SubmitWritesTheScriptBesideTheDbAndReturnsTheJobId) {
  ScopedEnv path("PATH", (dir_ / "bin").string() + ":" + std::getenv("PATH"));
  ScopedEnv fake("FAKE_DIR", dir_.string());
  ScopedEnv out("FAKE_SBATCH_OUT", "1234;clusterx");
  SubmitOptions o = valid_options();
  o.db = dir_ / "res dir" / "r.sqlite";
  const SubmitResult r = submit(o, "my sweep");
  EXPECT_EQ(r.job_id, "1234");
  EXPECT_EQ(r.cluster, "clusterx");
  EXPECT_EQ(r.script.parent_path(), dir_ / "res dir" / "r.sqlite.slurm");
  EXPECT_EQ(r.script.filename().string().rfind("my_sweep-", 0), 0u) << r.script;
  EXPECT_EQ(slurp(r.script), render_batch_script(o, "my sweep"));
  EXPECT_EQ(r.output, (dir_ / "res dir" / "r.sqlite.slurm" / "my_sweep-%j.out").string());
  EXPECT_EQ(argv_of("sbatch"), (std::vector<std::string>{"--parsable", r.script.string()}));
  // A second submission in the same second gets its own script.
  EXPECT_NE(submit(o, "my sweep").script, r.script);
}

TEST_F(FakeSlurm, SubmitCreatesTheFolderOfAGivenOutput) {
  ScopedEnv path("PATH", (dir_ / "bin").string() + ":" + std::getenv("PATH"));
  ScopedEnv fake("FAKE_DIR", dir_.string());
  ScopedEnv out("FAKE_SBATCH_OUT", "77");
  SubmitOptions o = valid_options();
  o.db = dir_ / "r.sqlite";
  o.output = dir_ / "logs" / "deep" / "job-%j.out";
  EXPECT_EQ(submit(o, "s").job_id, "77");
  EXPECT_TRUE(fs::is_directory(dir_ / "logs" / "deep"));
}

TEST_F(FakeSlurm, SubmitReportsSbatchErrors) {
  ScopedEnv path("PATH", (dir_ / "bin").string() + ":" + std::getenv("PATH"));
  ScopedEnv fake("FAKE_DIR", dir_.string());
  ScopedEnv rc("FAKE_SBATCH_RC", "1");
  ScopedEnv err("FAKE_SBATCH_ERR", "sbatch: error: invalid partition specified: nope");
  SubmitOptions o = valid_options();
  o.db = dir_ / "r.sqlite";
  try {
    submit(o, "s");
    FAIL() << "no error";
  } catch (const InputError&) {
    FAIL() << "an sbatch failure is not an input error of locsweep";
  } catch (const Error& e) {
    EXPECT_NE(std::string(e.what()).find("invalid partition specified: nope"), std::string::npos)
        << e.what();
  }
}

TEST_F(FakeSlurm, SubmitRejectsOutputWithoutAJobId) {
  ScopedEnv path("PATH", (dir_ / "bin").string() + ":" + std::getenv("PATH"));
  ScopedEnv fake("FAKE_DIR", dir_.string());
  ScopedEnv out("FAKE_SBATCH_OUT", "Submitted batch job");
  SubmitOptions o = valid_options();
  o.db = dir_ / "r.sqlite";
  EXPECT_THROW(submit(o, "s"), Error);
}

TEST_F(FakeSlurm, SubmitWithoutSbatchSaysSo) {
  fs::create_directories(dir_ / "empty");
  ScopedEnv path("PATH", (dir_ / "empty").string());
  SubmitOptions o = valid_options();
  o.db = dir_ / "r.sqlite";
  try {
    submit(o, "s");
    FAIL() << "no error";
  } catch (const Error& e) {
    EXPECT_NE(std::string(e.what()).find("sbatch not found"), std::string::npos) << e.what();
  }
}

}  // namespace
}  // namespace locsweep
