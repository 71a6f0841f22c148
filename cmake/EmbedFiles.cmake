# embed_files(OUTPUT <file.c> SYMBOL <name> FILES <f1> <f2> ...)
# Generates a C file that defines `const struct embedded_file <name>[]` (see server/embedded.h):
# the build-time contents of each file, so the installed binary needs no data files at run time.
set(_embed_script "${CMAKE_CURRENT_LIST_DIR}/embed.cmake")

function(embed_files)
  cmake_parse_arguments(EMB "" "OUTPUT;SYMBOL" "FILES" ${ARGN})
  add_custom_command(
    OUTPUT "${EMB_OUTPUT}"
    COMMAND ${CMAKE_COMMAND} -DOUTPUT=${EMB_OUTPUT} -DSYMBOL=${EMB_SYMBOL}
            "-DFILES=${EMB_FILES}" -P "${_embed_script}"
    DEPENDS ${EMB_FILES} "${_embed_script}"
    COMMENT "Embedding ${EMB_SYMBOL}"
    VERBATIM)
endfunction()
