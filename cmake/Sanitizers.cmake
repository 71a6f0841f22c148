# -DIOTHUB_SANITIZE=ON builds every target with ASan and UBSan; any report fails the process.
if(IOTHUB_SANITIZE)
  set(_san -fsanitize=address,undefined -fno-sanitize-recover=all -fno-omit-frame-pointer)
  add_compile_options(${_san})
  add_link_options(${_san})
endif()
