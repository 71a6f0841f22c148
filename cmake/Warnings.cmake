# Warning flags for every target of the project; IOTHUB_WERROR=ON (as in CI) makes them errors.
add_compile_options(-Wall -Wextra -Wshadow -Wformat=2 -Wstrict-prototypes -Wmissing-prototypes
                    -Wvla -Wnull-dereference)
# _GNU_SOURCE: the code uses POSIX and a few Linux interfaces (mkdtemp, strndup, pipe2, getrandom).
add_compile_definitions(_GNU_SOURCE)
if(IOTHUB_WERROR)
  add_compile_options(-Werror)
endif()
