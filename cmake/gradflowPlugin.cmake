# gradflow_add_plugin(<target> <sources>...): a shared library of layers (optimizers, data
# sources) that `gradflow --plugin FILE` or a config's "plugins" list loads at run time. It is
# compiled with gradflow's usage requirements (headers, C++17, CPU flags, Eigen's settings) and
# links against the gradflow library the program has already loaded, sharing its registries.
function(gradflow_add_plugin target)
  add_library(${target} MODULE ${ARGN})
  target_link_libraries(${target} PRIVATE gradflow::gradflow)
  set_target_properties(${target} PROPERTIES CXX_STANDARD 17 CXX_STANDARD_REQUIRED ON CXX_EXTENSIONS OFF PREFIX "lib")
endfunction()
