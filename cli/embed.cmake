# Writes ${OUT}: a header holding the text of ${IN} as `kDemoYaml`.
file(READ ${IN} content)
file(WRITE ${OUT} "#pragma once\n// Generated from sweeps/demo.yaml by cli/embed.cmake; do not edit.\n"
     "inline constexpr const char* kDemoYaml = R\"locsweep(${content})locsweep\";\n")
