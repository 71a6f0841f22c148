# -DIOTHUB_SANITIZE=ON builds every target with ASan and UBSan; any report fails the process.
set(IH_SANITIZE_FLAGS -fsanitize=address,undefined -fno-sanitize-recover=all
                      -fno-omit-frame-pointer)
if(IOTHUB_SANITIZE)
  add_compile_options(${IH_SANITIZE_FLAGS})
  add_link_options(${IH_SANITIZE_FLAGS})
endif()

# ih_unsanitized(target): for code loaded into a process that is not sanitized (the mosquitto
# plugin): the sanitizer runtime must be the first library of a process, so it stays out.
function(ih_unsanitized target)
  foreach(property COMPILE_OPTIONS LINK_OPTIONS)
    get_target_property(options ${target} ${property})
    if(options)
      list(REMOVE_ITEM options ${IH_SANITIZE_FLAGS})
      set_target_properties(${target} PROPERTIES ${property} "${options}")
    endif()
  endforeach()
endfunction()
