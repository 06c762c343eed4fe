# Writes ${OUT}: a header holding the text of ${IN} as `inline constexpr const char* ${NAME}`
# (slurm/job.sbatch.in as kJobSbatchTemplate, scripts/launch as kLauncherScript), so the binary
# renders batch scripts from anywhere.
file(READ ${IN} content)
string(FIND "${content}" ")embedded\"" clash)
if(NOT clash EQUAL -1)
  message(FATAL_ERROR "${IN} contains the raw-string delimiter )embedded\"")
endif()
file(WRITE ${OUT} "#pragma once\n// Generated from ${IN} by slurm/embed_template.cmake; do not edit.\n"
     "inline constexpr const char* ${NAME} = R\"embedded(${content})embedded\";\n")
