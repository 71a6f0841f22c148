# -DIOTHUB_FUZZ=ON (with CC=clang) builds the libFuzzer harnesses of tests/fuzz: every library
# is compiled with coverage instrumentation for the fuzzer; add -DIOTHUB_SANITIZE=ON for ASan and
# UBSan, as scripts/test does.
if(IOTHUB_FUZZ)
  if(NOT CMAKE_C_COMPILER_ID STREQUAL "Clang")
    message(FATAL_ERROR "IOTHUB_FUZZ needs clang for libFuzzer: configure with CC=clang")
  endif()
  add_compile_options(-fsanitize=fuzzer-no-link)
endif()
