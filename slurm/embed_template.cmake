# Writes ${OUT}: a header holding the text of ${IN} (slurm/job.sbatch.in) as
# `kJobSbatchTemplate`, so the binary renders batch scripts from anywhere.
file(READ ${IN} content)
string(FIND "${content}" ")sbatch\"" clash)
if(NOT clash EQUAL -1)
  message(FATAL_ERROR "${IN} contains the raw-string delimiter )sbatch\"")
endif()
file(WRITE ${OUT} "#pragma once\n// Generated from slurm/job.sbatch.in by slurm/embed_template.cmake; do not edit.\n"
     "inline constexpr const char* kJobSbatchTemplate = R\"sbatch(${content})sbatch\";\n")
